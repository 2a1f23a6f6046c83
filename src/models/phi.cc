// Phi-1/1.5/2 (transformers' modeling_phi.py): one LayerNorm feeds attention and MLP in parallel
// (hidden = attn + mlp + residual), partial rotary embeddings, biases everywhere (lm_head too),
// optional LayerNorm on q and k per head (qk_layernorm).
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

struct PhiLayer {
  TensorView input_layernorm_w, input_layernorm_b;  // (hidden_size)
  TensorView q_proj, k_proj, v_proj;                // (num_heads*head_dim | num_kv_heads*head_dim, hidden_size)
  TensorView q_bias, k_bias, v_bias;                // (out_features)
  TensorView q_layernorm_w, q_layernorm_b;          // qk_layernorm: (head_dim)
  TensorView k_layernorm_w, k_layernorm_b;          // qk_layernorm: (head_dim)
  TensorView dense, dense_b;                        // (hidden_size, num_heads*head_dim), (hidden_size)
  TensorView fc1, fc1_b;                            // (intermediate_size, hidden_size), (intermediate_size)
  TensorView fc2, fc2_b;                            // (hidden_size, intermediate_size), (hidden_size)
};

class PhiModel final : public LoadedModel {
 public:
  PhiModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    num_heads_ = int(config_size(c, "num_attention_heads"));
    num_kv_heads_ = int(config_size_or(c, "num_key_value_heads", num_heads_));
    check_divisible(c, "num_attention_heads", num_heads_, "num_key_value_heads", num_kv_heads_);
    check_divisible(c, "hidden_size", H, "num_attention_heads", num_heads_);
    head_dim_ = int(H / num_heads_);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    I_ = config_size(c, "intermediate_size");
    eps_ = float(config_epsilon(c, "layer_norm_eps", 1e-5));
    act_ = parse_activation(c.get_or<std::string>("hidden_act", "gelu_new"), c.source() + ": hidden_act");
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "model.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    // partial_rotary_factor: top level in Hub configs, inside rope_parameters once transformers 5 saved it.
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), head_dim_,
                                              c.get_or<double>("partial_rotary_factor", 0.5), max_pos);
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(I_, "intermediate_size");
    describe_dim(kv_out, "num_key_value_heads × head_dim");
    hidden_size_ = H;
    embed_tokens_ = require_matrix("model.embed_tokens.weight", {V, H});
    final_layernorm_w_ = require("model.final_layernorm.weight", {H});
    final_layernorm_b_ = require("model.final_layernorm.bias", {H});
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, "model.embed_tokens.weight",
                       c.get_or<bool>("tie_word_embeddings", false), {V, H});
    lm_head_b_ = require("lm_head.bias", {V});
    const bool qk_layernorm = c.get_or<bool>("qk_layernorm", false);
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      PhiLayer& L = layers_[i];
      L.input_layernorm_w = require(p + "input_layernorm.weight", {H});
      L.input_layernorm_b = require(p + "input_layernorm.bias", {H});
      L.q_proj = require_matrix(p + "self_attn.q_proj.weight", {q_out, H});
      L.k_proj = require_matrix(p + "self_attn.k_proj.weight", {kv_out, H});
      L.v_proj = require_matrix(p + "self_attn.v_proj.weight", {kv_out, H});
      L.q_bias = require(p + "self_attn.q_proj.bias", {q_out});
      L.k_bias = require(p + "self_attn.k_proj.bias", {kv_out});
      L.v_bias = require(p + "self_attn.v_proj.bias", {kv_out});
      if (qk_layernorm) {
        L.q_layernorm_w = require(p + "self_attn.q_layernorm.weight", {head_dim_});
        L.q_layernorm_b = require(p + "self_attn.q_layernorm.bias", {head_dim_});
        L.k_layernorm_w = require(p + "self_attn.k_layernorm.weight", {head_dim_});
        L.k_layernorm_b = require(p + "self_attn.k_layernorm.bias", {head_dim_});
      }
      L.dense = require_matrix(p + "self_attn.dense.weight", {H, q_out});
      L.dense_b = require(p + "self_attn.dense.bias", {H});
      L.fc1 = require_matrix(p + "mlp.fc1.weight", {I_, H});
      L.fc1_b = require(p + "mlp.fc1.bias", {I_});
      L.fc2 = require_matrix(p + "mlp.fc2.weight", {H, I_});
      L.fc2_b = require(p + "mlp.fc2.bias", {H});
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_, V = config_.vocab_size;
    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    int64_t max_pos = 0;
    for (int64_t p : s.positions) max_pos = std::max(max_pos, p);
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (2 * H + 2 * q_out + 2 * kv_out + I_) + double(out_rows) * (H + V), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);            // input_layernorm(hidden), shared by attention and MLP
    float* q = s.q.resize(N * q_out);
    float* k = s.k.resize(N * kv_out);
    float* v = s.v.resize(N * kv_out);
    float* attn = s.attn.resize(N * q_out);
    float* ff = s.up.resize(N * I_);         // (batch*seq_len, intermediate_size)
    for (int64_t n = 0; n < N; ++n) copy_row(embed_tokens_, ids[n], hidden + n * H);
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    for (int l = 0; l < num_layers_; ++l) {
      const PhiLayer& L = layers_[l];
      layer_index = l;
      layer_norm(hidden, N, H, L.input_layernorm_w, L.input_layernorm_b, eps_, x);
      linear_fused(x, N, {{L.q_proj, L.q_bias, q}, {L.k_proj, L.k_bias, k}, {L.v_proj, L.v_bias, v}});
      for (int64_t n = 0; n < N; ++n) {
        float* qn = q + n * q_out;
        float* kn = k + n * kv_out;
        if (!L.q_layernorm_w.empty()) {
          layer_norm(qn, num_heads_, head_dim_, L.q_layernorm_w, L.q_layernorm_b, eps_, qn);
          layer_norm(kn, num_kv_heads_, head_dim_, L.k_layernorm_w, L.k_layernorm_b, eps_, kn);
        }
        rope_->apply(qn, num_heads_, head_dim_, s.positions[n], max_pos + 1);
        rope_->apply(kn, num_kv_heads_, head_dim_, s.positions[n], max_pos + 1);
      }
      scatter_heads(k, B, T, num_kv_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, num_kv_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = num_heads_;
      spec.num_kv_heads = num_kv_heads_;
      spec.head_dim = head_dim_;
      spec.scale = float(std::pow(head_dim_, -0.5));
      attention(spec, B, T, start, q, kv, start + T, attn);
      // hidden = dense(attn) + fc2(act(fc1(x))) + hidden
      linear_accumulate(attn, N, L.dense, L.dense_b, hidden);
      linear(x, N, L.fc1, L.fc1_b, ff);
      activate(act_, ff, N * I_);
      linear_accumulate(ff, N, L.fc2, L.fc2_b, hidden);
    }
    float* last = s.last.resize(out_rows * H);
    if (all_positions) layer_norm(hidden, N, H, final_layernorm_w_, final_layernorm_b_, eps_, last);
    else
      for (int b = 0; b < B; ++b)
        layer_norm(hidden + (int64_t(b) * T + T - 1) * H, 1, H, final_layernorm_w_, final_layernorm_b_, eps_, last + b * H);
    float* logits = s.logits.resize(out_rows * V);
    linear(last, out_rows, lm_head_, lm_head_b_, logits);
    return {logits, size_t(out_rows * V)};
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0, I_ = 0;
  int num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  float eps_ = 1e-5f;
  Activation act_ = Activation::kGeluTanh;
  std::unique_ptr<RotaryEmbedding> rope_;
  TensorView embed_tokens_;                          // (vocab_size, hidden_size)
  TensorView final_layernorm_w_, final_layernorm_b_;  // (hidden_size)
  TensorView lm_head_, lm_head_b_;                   // (vocab_size, hidden_size), (vocab_size)
  std::vector<PhiLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_phi(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<PhiModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
