#include "nn/cross_attention.h"

#include "nn/attention.h"
#include "nn/kv_cache.h"
#include "ops/linear.h"

namespace autolm {

CrossAttention CrossAttention::load(WeightSource& w, const std::string& p, const CrossAttentionOptions& o,
                                    const CrossAttentionNames& names) {
  CrossAttention a;
  a.options_ = o;
  if (a.options_.kv_input_size == 0) a.options_.kv_input_size = o.hidden_size;
  if (a.options_.num_kv_heads == 0) a.options_.num_kv_heads = o.num_heads;
  if (a.options_.num_kv_heads < 0 || o.num_heads % a.options_.num_kv_heads != 0)
    throw Error(ErrorKind::kInvalidInput, p + ": " + std::to_string(o.num_heads) + " attention heads are not a multiple of " +
                                              std::to_string(a.options_.num_kv_heads) + " key/value heads");
  const int64_t H = o.hidden_size, S = a.options_.kv_input_size, inner = int64_t(o.num_heads) * o.head_dim,
                kv_inner = int64_t(a.options_.num_kv_heads) * o.head_dim;
  a.q_proj = w.require_matrix(p + names.q + ".weight", {inner, H});
  a.k_proj = w.require_matrix(p + names.k + ".weight", {kv_inner, S});
  a.v_proj = w.require_matrix(p + names.v + ".weight", {kv_inner, S});
  a.o_proj = w.require_matrix(p + names.o + ".weight", {H, inner});
  if (o.bias) {
    a.q_bias = w.require(p + names.q + ".bias", {inner});
    a.k_bias = w.require(p + names.k + ".bias", {kv_inner});
    a.v_bias = w.require(p + names.v + ".bias", {kv_inner});
    a.o_bias = w.require(p + names.o + ".bias", {H});
  }
  return a;
}

void CrossAttention::project_kv(const float* source, int n, int S, Workspace& ws, CrossKV& kv) const {
  const CrossAttentionOptions& o = options_;
  const int64_t N = int64_t(n) * S, inner = int64_t(o.num_kv_heads) * o.head_dim;
  float* k = ws.k.resize(N * inner);  // (inputs*src_len, num_kv_heads*head_dim)
  float* v = ws.v.resize(N * inner);
  linear_fused(source, N, {{k_proj, k_bias, k}, {v_proj, v_bias, v}});
  kv.k.resize(size_t(N * inner));
  kv.v.resize(size_t(N * inner));
  scatter_heads(k, n, S, o.num_kv_heads, o.head_dim, kv.k.data(), S, 0);  // → (inputs, kv_heads, src_len, head_dim)
  scatter_heads(v, n, S, o.num_kv_heads, o.head_dim, kv.v.data(), S, 0);
  kv.num_inputs = n;
  kv.src_len = S;
}

void CrossAttention::forward(const float* x, int B, int T, const CrossKV& kv, std::span<const uint8_t> src_valid,
                             Workspace& ws, float* out, bool accumulate) const {
  const CrossAttentionOptions& o = options_;
  if (kv.num_inputs <= 0 || B % kv.num_inputs != 0 || src_valid.size() != size_t(kv.num_inputs) * kv.src_len ||
      (o.sliding_window > 0 && (B != kv.num_inputs || T != kv.src_len)))
    throw Error(ErrorKind::kInvalidInput, "cross-attention: " + std::to_string(B) + " query rows over " +
                                              std::to_string(kv.num_inputs) + " encoded inputs of length " +
                                              std::to_string(kv.src_len) + " (mask of " +
                                              std::to_string(src_valid.size()) + ")");
  const int64_t N = int64_t(B) * T, inner = int64_t(o.num_heads) * o.head_dim, block = int64_t(kv.src_len) * o.head_dim;
  const int rows_per_input = B / kv.num_inputs;
  float* q = ws.q.resize(N * inner);  // (batch*q_len, num_heads*head_dim)
  float* attn = ws.attn.resize(N * inner);
  linear(x, N, q_proj, q_bias, q);
  KVSource source;
  source.k = [&](int b, int h) { return kv.k.data() + (int64_t(b / rows_per_input) * o.num_kv_heads + h) * block; };
  source.v = [&](int b, int h) { return kv.v.data() + (int64_t(b / rows_per_input) * o.num_kv_heads + h) * block; };
  source.key_valid = [&](int b) { return src_valid.data() + int64_t(b / rows_per_input) * kv.src_len; };
  AttentionSpec spec;
  spec.num_heads = o.num_heads;
  spec.num_kv_heads = o.num_kv_heads;
  spec.head_dim = o.head_dim;
  spec.scale = o.scale;
  spec.softcap = o.softcap;
  spec.sliding_window = o.sliding_window;
  spec.causal = false;
  attention(spec, B, T, 0, q, source, kv.src_len, attn);
  if (accumulate) linear_accumulate(attn, N, o_proj, o_bias, out);
  else linear(attn, N, o_proj, o_bias, out);
}

}  // namespace autolm
