// Falcon (transformers' modeling_falcon.py), rotary variants (alibi = false): fused
// query_key_value as multi-query ([q heads, k, v]), per head ([q, k, v] × heads) or, with
// new_decoder_architecture, per kv group ([q × heads/kv, k, v] × num_kv_heads); attention and
// MLP in parallel on one LayerNorm (or ln_attn + ln_mlp), or sequential.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/attention.h"
#include "nn/rope.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct FalconState : CausalState {
  using CausalState::CausalState;
  Buffer x_mlp;  // ln_mlp(hidden) of two-norm layers: (batch*seq_len, hidden_size)
};

struct FalconLayer {
  TensorView ln_attn_w, ln_attn_b;  // input_layernorm, or ln_attn (two-LN layers): (hidden_size)
  TensorView ln_mlp_w, ln_mlp_b;    // ln_mlp or post_attention_layernorm, empty when shared: (hidden_size)
  TensorView query_key_value, query_key_value_b;  // ((num_heads + 2*num_kv_heads)*head_dim, hidden_size)
  TensorView dense, dense_b;                      // (hidden_size, hidden_size)
  TensorView dense_h_to_4h, dense_h_to_4h_b;      // (ffn_hidden_size, hidden_size)
  TensorView dense_4h_to_h, dense_4h_to_h_b;      // (hidden_size, ffn_hidden_size)
};

class FalconModel final : public LoadedModel {
 public:
  FalconModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    if (c.get_or<bool>("alibi", false))
      throw Error(ErrorKind::kUnsupported, c.source() + ": alibi = true (Falcon-RW) is not supported; rotary Falcon models are");
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    num_heads_ = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", num_heads_);
    head_dim_ = int(H / num_heads_);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    new_arch_ = c.get_or<bool>("new_decoder_architecture", false);
    const bool multi_query = c.get_or<bool>("multi_query", true);
    parallel_ = c.get_or<bool>("parallel_attn", true);
    // Equivalent in FalconAttention.__init__: kv heads of each layout.
    if (new_arch_) {
      num_kv_heads_ = int(config_size_or(c, "num_kv_heads", num_heads_));
      check_divisible(c, "num_attention_heads", num_heads_, "num_kv_heads", num_kv_heads_);
    } else {
      num_kv_heads_ = multi_query ? 1 : num_heads_;
    }
    layout_ = new_arch_ ? Layout::kGrouped : multi_query ? Layout::kMultiQuery : Layout::kPerHead;
    const int64_t num_ln = config_size_or(c, "num_ln_in_parallel_attn", new_arch_ ? 2 : 1);
    two_ln_ = new_arch_ && num_ln == 2;
    // Layouts transformers itself cannot run (FalconDecoderLayer would read a missing norm).
    if ((!new_arch_ && num_ln == 2 && parallel_) || (new_arch_ && num_ln != 2 && !parallel_))
      throw Error(ErrorKind::kInvalidInput, c.source() + ": num_ln_in_parallel_attn = " + std::to_string(num_ln) +
                                                " does not go with new_decoder_architecture / parallel_attn here");
    F_ = config_size_or(c, "ffn_hidden_size", 4 * H);
    eps_ = float(config_epsilon(c, "layer_norm_epsilon", 1e-5));
    act_ = parse_activation(c.get_or<std::string>("activation", "gelu"), c.source() + ": activation");
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "transformer.h.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), head_dim_, 1.0, max_pos);
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    const int64_t qkv_out = int64_t(num_heads_ + 2 * num_kv_heads_) * head_dim_;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(F_, "ffn_hidden_size");
    describe_dim(qkv_out, "(num_attention_heads + 2 × kv heads) × head_dim");
    hidden_size_ = H;
    const bool bias = c.get_or<bool>("bias", false);
    word_embeddings_ = require_matrix("transformer.word_embeddings.weight", {V, H});
    ln_f_w_ = require("transformer.ln_f.weight", {H});
    ln_f_b_ = require("transformer.ln_f.bias", {H});
    lm_head_ = lm_head("lm_head.weight", word_embeddings_, "transformer.word_embeddings.weight",
                       c.get_or<bool>("tie_word_embeddings", true), {V, H});
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "transformer.h." + std::to_string(i) + ".";
      FalconLayer& L = layers_[i];
      const std::string ln_a = two_ln_ ? "ln_attn" : "input_layernorm";
      L.ln_attn_w = require(p + ln_a + ".weight", {H});
      L.ln_attn_b = require(p + ln_a + ".bias", {H});
      if (two_ln_ || !parallel_) {
        const std::string ln_m = two_ln_ ? "ln_mlp" : "post_attention_layernorm";
        L.ln_mlp_w = require(p + ln_m + ".weight", {H});
        L.ln_mlp_b = require(p + ln_m + ".bias", {H});
      }
      L.query_key_value = require_matrix(p + "self_attention.query_key_value.weight", {qkv_out, H});
      L.dense = require_matrix(p + "self_attention.dense.weight", {H, H});
      L.dense_h_to_4h = require_matrix(p + "mlp.dense_h_to_4h.weight", {F_, H});
      L.dense_4h_to_h = require_matrix(p + "mlp.dense_4h_to_h.weight", {H, F_});
      if (bias) {
        L.query_key_value_b = require(p + "self_attention.query_key_value.bias", {qkv_out});
        L.dense_b = require(p + "self_attention.dense.bias", {H});
        L.dense_h_to_4h_b = require(p + "mlp.dense_h_to_4h.bias", {F_});
        L.dense_4h_to_h_b = require(p + "mlp.dense_4h_to_h.bias", {H});
      }
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<FalconState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override;

 private:
  enum class Layout { kMultiQuery, kPerHead, kGrouped };
  // FalconAttention._split_heads: fused (num_heads + 2*num_kv_heads)*head_dim → q, k, v of one token.
  void split_heads(const float* fused, float* q, float* k, float* v) const {
    const int D = head_dim_;
    auto put = [D](const float* src, float* dst) { std::copy(src, src + D, dst); };
    if (layout_ == Layout::kMultiQuery) {  // [q_0 … q_{h-1}, k, v]
      std::copy(fused, fused + int64_t(num_heads_) * D, q);
      put(fused + int64_t(num_heads_) * D, k);
      put(fused + int64_t(num_heads_ + 1) * D, v);
    } else if (layout_ == Layout::kPerHead) {  // [q_h, k_h, v_h] per head
      for (int h = 0; h < num_heads_; ++h) {
        put(fused + int64_t(3 * h) * D, q + int64_t(h) * D);
        put(fused + int64_t(3 * h + 1) * D, k + int64_t(h) * D);
        put(fused + int64_t(3 * h + 2) * D, v + int64_t(h) * D);
      }
    } else {  // [q × group, k, v] per kv head
      const int group = num_heads_ / num_kv_heads_;
      for (int g = 0; g < num_kv_heads_; ++g) {
        const float* src = fused + int64_t(g) * (group + 2) * D;
        for (int j = 0; j < group; ++j) put(src + int64_t(j) * D, q + int64_t(g * group + j) * D);
        put(src + int64_t(group) * D, k + int64_t(g) * D);
        put(src + int64_t(group + 1) * D, v + int64_t(g) * D);
      }
    }
  }

  PositionLimit positions_;
  int64_t hidden_size_ = 0, F_ = 0;
  int num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  bool new_arch_ = false, parallel_ = true, two_ln_ = false;
  Layout layout_ = Layout::kMultiQuery;
  float eps_ = 1e-5f;
  Activation act_ = Activation::kGelu;
  std::unique_ptr<RotaryEmbedding> rope_;
  TensorView word_embeddings_;  // (vocab_size, hidden_size)
  TensorView ln_f_w_, ln_f_b_;  // (hidden_size)
  TensorView lm_head_;          // (vocab_size, hidden_size): word_embeddings_ when tied
  std::vector<FalconLayer> layers_;
};

std::span<const float> FalconModel::decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                           DecodeState& base, bool all_positions) const {
  auto& s = static_cast<FalconState&>(base);
  const int B = s.batch_size();
  const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
  const int64_t N = int64_t(B) * T, H = hidden_size_, V = config_.vocab_size;
  const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
  const int64_t qkv_out = q_out + 2 * kv_out;
  int64_t max_pos = 0;
  for (int64_t p : s.positions) max_pos = std::max(max_pos, p);
  const int64_t out_rows = all_positions ? N : B;
  check_scratch(double(N) * (3 * H + 2 * q_out + 2 * kv_out + qkv_out + F_) + double(out_rows) * (H + V), N);
  float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
  float* x = s.x.resize(N * H);            // attention's LayerNorm output
  float* fused = s.gate.resize(N * qkv_out);
  float* q = s.q.resize(N * q_out);
  float* k = s.k.resize(N * kv_out);
  float* v = s.v.resize(N * kv_out);
  float* attn = s.attn.resize(N * q_out);
  float* ff = s.up.resize(N * F_);         // (batch*seq_len, ffn_hidden_size)
  for (int64_t n = 0; n < N; ++n) copy_row(word_embeddings_, ids[n], hidden + n * H);
  int layer_index = 0;
  const KVSource kv = s.cache.source(layer_index);
  for (int l = 0; l < num_layers_; ++l) {
    const FalconLayer& L = layers_[l];
    layer_index = l;
    layer_norm(hidden, N, H, L.ln_attn_w, L.ln_attn_b, eps_, x);
    linear(x, N, L.query_key_value, L.query_key_value_b, fused);
    for (int64_t n = 0; n < N; ++n) {
      split_heads(fused + n * qkv_out, q + n * q_out, k + n * kv_out, v + n * kv_out);
      rope_->apply(q + n * q_out, num_heads_, head_dim_, s.positions[n], max_pos + 1);
      rope_->apply(k + n * kv_out, num_kv_heads_, head_dim_, s.positions[n], max_pos + 1);
    }
    scatter_heads(k, B, T, num_kv_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
    scatter_heads(v, B, T, num_kv_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
    AttentionSpec spec;
    spec.num_heads = num_heads_;
    spec.num_kv_heads = num_kv_heads_;
    spec.head_dim = head_dim_;
    spec.scale = float(1.0 / std::sqrt(double(head_dim_)));
    attention(spec, B, T, start, q, kv, start + T, attn);
    // FalconDecoderLayer.forward: the MLP reads ln_mlp(h) (two norms), the attention's norm
    // (parallel) or post_attention_layernorm(h + attn) (sequential); output = mlp + attn + h.
    const float* mlp_in = x;
    if (two_ln_) {
      mlp_in = s.x_mlp.resize(N * H);
      layer_norm(hidden, N, H, L.ln_mlp_w, L.ln_mlp_b, eps_, s.x_mlp.data());
    }
    linear_accumulate(attn, N, L.dense, L.dense_b, hidden);
    if (!two_ln_ && !parallel_) layer_norm(hidden, N, H, L.ln_mlp_w, L.ln_mlp_b, eps_, x);
    linear(mlp_in, N, L.dense_h_to_4h, L.dense_h_to_4h_b, ff);
    activate(act_, ff, N * F_);
    linear_accumulate(ff, N, L.dense_4h_to_h, L.dense_4h_to_h_b, hidden);
  }
  float* last = s.last.resize(out_rows * H);
  if (all_positions) layer_norm(hidden, N, H, ln_f_w_, ln_f_b_, eps_, last);
  else
    for (int b = 0; b < B; ++b) layer_norm(hidden + (int64_t(b) * T + T - 1) * H, 1, H, ln_f_w_, ln_f_b_, eps_, last + b * H);
  static const TensorView kNone;
  float* logits = s.logits.resize(out_rows * V);
  linear(last, out_rows, lm_head_, kNone, logits);
  return {logits, size_t(out_rows * V)};
}

}  // namespace

std::unique_ptr<Model> make_falcon(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<FalconModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
