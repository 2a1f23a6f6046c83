#include "nn/self_attention.h"

#include <algorithm>
#include <vector>

#include "nn/attention.h"
#include "ops/linear.h"

namespace autolm {

SelfAttention SelfAttention::load(WeightSource& w, const std::string& p, const SelfAttentionOptions& o,
                                  const SelfAttentionNames& names) {
  SelfAttention a;
  a.options_ = o;
  const int64_t H = o.hidden_size, q_out = int64_t(o.num_heads) * o.head_dim, kv_out = int64_t(o.num_kv_heads) * o.head_dim;
  auto matrix = [&](const std::string& name, int64_t out, int64_t in) {
    return o.transposed ? w.require_transposed(p + name + ".weight", {in, out})
                        : w.require_matrix(p + name + ".weight", {out, in});
  };
  auto bias = [&](const std::string& name, int64_t n) { return w.require(p + name + ".bias", {n}); };
  switch (o.layout) {
    case QkvLayout::kSeparate:
      a.q_proj = matrix(names.q, q_out, H);
      a.k_proj = matrix(names.k, kv_out, H);
      a.v_proj = matrix(names.v, kv_out, H);
      if (o.qkv_bias) {
        a.q_bias = bias(names.q, q_out);
        a.k_bias = bias(names.k, kv_out);
        a.v_bias = bias(names.v, kv_out);
      }
      break;
    case QkvLayout::kFused: {  // rows [q; k; v]: views, no copy
      const TensorView qkv = matrix(names.qkv, q_out + 2 * kv_out, H);
      a.q_proj = weight_rows(qkv, 0, q_out);
      a.k_proj = weight_rows(qkv, q_out, kv_out);
      a.v_proj = weight_rows(qkv, q_out + kv_out, kv_out);
      if (o.qkv_bias) {
        const TensorView b = bias(names.qkv, q_out + 2 * kv_out);
        a.q_bias = vector_slice(b, 0, q_out);
        a.k_bias = vector_slice(b, q_out, kv_out);
        a.v_bias = vector_slice(b, q_out + kv_out, kv_out);
      }
      break;
    }
    case QkvLayout::kGrouped:  // split per token after the projection (see project)
      a.qkv_proj = matrix(names.qkv, q_out + 2 * kv_out, H);
      if (o.qkv_bias) a.qkv_bias = bias(names.qkv, q_out + 2 * kv_out);
      break;
  }
  a.o_proj = matrix(names.o, H, q_out);
  if (o.o_bias) a.o_bias = bias(names.o, H);
  switch (o.qk_norm) {
    case QkNorm::kNone: break;
    case QkNorm::kPerHead:
      a.q_norm = Norm::load(w, p + names.q_norm, o.head_dim, o.qk_norm_options);
      a.k_norm = Norm::load(w, p + names.k_norm, o.head_dim, o.qk_norm_options);
      break;
    case QkNorm::kPerHeadDistinct:
      a.q_norm = Norm::load(w, p + names.q_norm, o.head_dim, o.qk_norm_options, o.num_heads);
      a.k_norm = Norm::load(w, p + names.k_norm, o.head_dim, o.qk_norm_options, o.num_kv_heads);
      break;
    case QkNorm::kPerHeadModules: {
      std::vector<std::string> q, k;
      for (int h = 0; h < o.num_heads; ++h) q.push_back(p + names.q_norm + ".norms." + std::to_string(h));
      for (int h = 0; h < o.num_kv_heads; ++h) k.push_back(p + names.k_norm + ".norms." + std::to_string(h));
      a.q_norm = Norm::load_modules(w, q, o.head_dim, o.qk_norm_options);
      a.k_norm = Norm::load_modules(w, k, o.head_dim, o.qk_norm_options);
      break;
    }
    case QkNorm::kFull:
      a.q_norm = Norm::load(w, p + names.q_norm, q_out, o.qk_norm_options);
      a.k_norm = Norm::load(w, p + names.k_norm, kv_out, o.qk_norm_options);
      break;
  }
  if (o.sinks) a.sinks = w.require(p + names.sinks, {o.num_heads});
  return a;
}

void SelfAttention::project(const float* x, int64_t N, Workspace& ws, float* q, float* k, float* v) const {
  const SelfAttentionOptions& o = options_;
  if (o.layout != QkvLayout::kGrouped) {
    linear_fused(x, N, {{q_proj, q_bias, q}, {k_proj, k_bias, k}, {v_proj, v_bias, v}});
    return;
  }
  // Equivalent in modeling_falcon.py (_split_heads, new_decoder_architecture):
  // qkv.view(batch, seq_len, num_kv_heads, num_heads/num_kv_heads + 2, head_dim).
  const int64_t D = o.head_dim, per_group = o.num_heads / o.num_kv_heads, width = (int64_t(o.num_heads) + 2 * o.num_kv_heads) * D;
  float* qkv = ws.qkv.resize(N * width);  // (tokens, num_kv_heads, per_group + 2, head_dim)
  linear(x, N, qkv_proj, qkv_bias, qkv);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < o.num_kv_heads; ++g) {
      const float* src = qkv + n * width + g * (per_group + 2) * D;
      std::copy(src, src + per_group * D, q + (n * o.num_heads + g * per_group) * D);
      std::copy(src + per_group * D, src + (per_group + 1) * D, k + (n * o.num_kv_heads + g) * D);
      std::copy(src + (per_group + 1) * D, src + (per_group + 2) * D, v + (n * o.num_kv_heads + g) * D);
    }
}

void SelfAttention::forward(const float* x, int B, int T, int start, std::span<const int64_t> positions, KVCache& cache,
                            int layer, Workspace& ws, float* out, bool accumulate) const {
  const SelfAttentionOptions& o = options_;
  const int64_t N = int64_t(B) * T, q_out = int64_t(o.num_heads) * o.head_dim, kv_out = int64_t(o.num_kv_heads) * o.head_dim;
  float* q = ws.q.resize(N * q_out);   // (batch*seq_len, num_heads*head_dim)
  float* k = ws.k.resize(N * kv_out);  // (batch*seq_len, num_kv_heads*head_dim)
  float* v = ws.v.resize(N * kv_out);
  float* attn = ws.attn.resize(N * q_out);
  project(x, N, ws, q, k, v);
  if (o.clip_qkv > 0.f)  // Equivalent in modeling_olmo.py: q.clamp_(min=-clip_qkv, max=clip_qkv), same for k, v
    for (float* t : {q, k, v})
      for (int64_t i = 0, n = N * (t == q ? q_out : kv_out); i < n; ++i) t[i] = std::clamp(t[i], -o.clip_qkv, o.clip_qkv);
  // q/k norms before RoPE: per head rows (tokens*heads, head_dim), or whole rows (tokens, out).
  if (!q_norm.empty()) {
    const bool full = o.qk_norm == QkNorm::kFull;
    q_norm.forward(q, full ? N : N * o.num_heads, q);
    k_norm.forward(k, full ? N : N * o.num_kv_heads, k);
  }
  if (o.rope) {
    // "dynamic" rope rescales by the longest position of the call, as HF does; a ragged batch
    // (rows of several requests) by the longest of each request's own rows, as it would alone.
    const bool ragged = cache.ragged();
    const int groups = ragged ? cache.row_group(B - 1) + 1 : 1;  // groups are numbered in row order
    thread_local std::vector<int64_t> max_pos;  // per request (group); grows only
    max_pos.assign(size_t(groups), 0);
    for (int64_t n = 0; n < N; ++n) {
      int64_t& m = max_pos[ragged ? cache.row_group(int(n / T)) : 0];
      m = std::max(m, positions[n]);
    }
    for (int64_t n = 0; n < N; ++n) {
      const int64_t seq_len = max_pos[ragged ? cache.row_group(int(n / T)) : 0] + 1;
      o.rope->apply(q + n * q_out, o.num_heads, o.head_dim, positions[n], seq_len);
      o.rope->apply(k + n * kv_out, o.num_kv_heads, o.head_dim, positions[n], seq_len);
    }
  }
  if (cache.ragged()) {  // each row into its own request's cache, at its own length
    start = 0;
    for (int b = 0; b < B; ++b) {
      const int64_t at = int64_t(b) * T * kv_out;
      scatter_heads(k + at, 1, T, o.num_kv_heads, o.head_dim, cache.k(layer, b, 0), cache.row_capacity(b), cache.row_start(b));
      scatter_heads(v + at, 1, T, o.num_kv_heads, o.head_dim, cache.v(layer, b, 0), cache.row_capacity(b), cache.row_start(b));
    }
  } else {
    scatter_heads(k, B, T, o.num_kv_heads, o.head_dim, cache.k(layer, 0, 0), cache.max_len(), start);
    scatter_heads(v, B, T, o.num_kv_heads, o.head_dim, cache.v(layer, 0, 0), cache.max_len(), start);
  }
  AttentionSpec spec;
  spec.num_heads = o.num_heads;
  spec.num_kv_heads = o.num_kv_heads;
  spec.head_dim = o.head_dim;
  spec.scale = o.scale;
  spec.causal = o.causal;
  spec.sliding_window = o.sliding_window;
  spec.softcap = o.softcap;
  spec.sinks = sinks.empty() ? nullptr : sinks.data;
  const int layer_index = layer;
  attention(spec, B, T, start, q, cache.source(layer_index), start + T, attn);
  if (accumulate) linear_accumulate(attn, N, o_proj, o_bias, out);
  else linear(attn, N, o_proj, o_bias, out);
}

}  // namespace autolm
