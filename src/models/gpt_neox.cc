// GPT-NeoX / Pythia (transformers' modeling_gpt_neox.py): fused query_key_value laid out per
// head ([q, k, v] of head 0, then head 1, …), partial rotary (rotary_pct), LayerNorms with bias,
// parallel residual (hidden = attn(ln1(h)) + mlp(ln2(h)) + h) or sequential, untied embed_out.
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

struct GPTNeoXLayer {
  TensorView input_layernorm_w, input_layernorm_b;                    // (hidden_size)
  TensorView post_attention_layernorm_w, post_attention_layernorm_b;  // (hidden_size)
  TensorView query_key_value, query_key_value_b;  // (3*hidden_size, hidden_size): per head [q, k, v]
  TensorView dense, dense_b;                      // (hidden_size, hidden_size)
  TensorView dense_h_to_4h, dense_h_to_4h_b;      // (intermediate_size, hidden_size)
  TensorView dense_4h_to_h, dense_4h_to_h_b;      // (hidden_size, intermediate_size)
};

class GPTNeoXModel final : public LoadedModel {
 public:
  GPTNeoXModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    num_heads_ = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", num_heads_);
    head_dim_ = int(H / num_heads_);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    I_ = config_size(c, "intermediate_size");
    eps_ = float(config_epsilon(c, "layer_norm_eps", 1e-5));
    act_ = parse_activation(c.get_or<std::string>("hidden_act", "gelu"), c.source() + ": hidden_act");
    parallel_residual_ = c.get_or<bool>("use_parallel_residual", true);
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "gpt_neox.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    // Hub configs: rotary_pct / rotary_emb_base; transformers 5 saves them in rope_parameters.
    nlohmann::json params = rope_parameters_for(c).raw();
    if (!c.has("rope_parameters") && c.has("rotary_emb_base")) params["rope_theta"] = c.raw()["rotary_emb_base"];
    rope_ = std::make_unique<RotaryEmbedding>(JsonConfig(params, c.source()), head_dim_,
                                              c.get_or<double>("rotary_pct", 0.25), max_pos);
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(3 * H, "3 × hidden_size (" + std::to_string(H) + ")");
    describe_dim(I_, "intermediate_size");
    hidden_size_ = H;
    const bool bias = c.get_or<bool>("attention_bias", true);
    embed_in_ = require_matrix("gpt_neox.embed_in.weight", {V, H});
    final_layer_norm_w_ = require("gpt_neox.final_layer_norm.weight", {H});
    final_layer_norm_b_ = require("gpt_neox.final_layer_norm.bias", {H});
    embed_out_ = lm_head("embed_out.weight", embed_in_, "gpt_neox.embed_in.weight",
                         c.get_or<bool>("tie_word_embeddings", false), {V, H});
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "gpt_neox.layers." + std::to_string(i) + ".";
      GPTNeoXLayer& L = layers_[i];
      L.input_layernorm_w = require(p + "input_layernorm.weight", {H});
      L.input_layernorm_b = require(p + "input_layernorm.bias", {H});
      L.post_attention_layernorm_w = require(p + "post_attention_layernorm.weight", {H});
      L.post_attention_layernorm_b = require(p + "post_attention_layernorm.bias", {H});
      L.query_key_value = require_matrix(p + "attention.query_key_value.weight", {3 * H, H});
      L.dense = require_matrix(p + "attention.dense.weight", {H, H});
      if (bias) {
        L.query_key_value_b = require(p + "attention.query_key_value.bias", {3 * H});
        L.dense_b = require(p + "attention.dense.bias", {H});
      }
      L.dense_h_to_4h = require_matrix(p + "mlp.dense_h_to_4h.weight", {I_, H});
      L.dense_h_to_4h_b = require(p + "mlp.dense_h_to_4h.bias", {I_});
      L.dense_4h_to_h = require_matrix(p + "mlp.dense_4h_to_h.weight", {H, I_});
      L.dense_4h_to_h_b = require(p + "mlp.dense_4h_to_h.bias", {H});
      // Old checkpoints carry the causal-mask buffers (attention.bias / masked_bias): not weights.
      weights_->mark_used(p + "attention.bias");
      weights_->mark_used(p + "attention.masked_bias");
      weights_->mark_used(p + "attention.rotary_emb.inv_freq");
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(num_layers_, batch, num_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_, V = config_.vocab_size, D = head_dim_;
    int64_t max_pos = 0;
    for (int64_t p : s.positions) max_pos = std::max(max_pos, p);
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (9 * H + I_) + double(out_rows) * (H + V), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    float* qkv = s.gate.resize(N * 3 * H);   // (batch*seq_len, num_heads, 3*head_dim)
    float* q = s.q.resize(N * H);
    float* k = s.k.resize(N * H);
    float* v = s.v.resize(N * H);
    float* attn = s.attn.resize(N * H);
    float* ff = s.up.resize(N * I_);         // (batch*seq_len, intermediate_size)
    for (int64_t n = 0; n < N; ++n) copy_row(embed_in_, ids[n], hidden + n * H);
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    for (int l = 0; l < num_layers_; ++l) {
      const GPTNeoXLayer& L = layers_[l];
      layer_index = l;
      layer_norm(hidden, N, H, L.input_layernorm_w, L.input_layernorm_b, eps_, x);
      linear(x, N, L.query_key_value, L.query_key_value_b, qkv);
      // Equivalent in GPTNeoXAttention: qkv.view(..., num_heads, 3*head_size).chunk(3, dim=-1).
      for (int64_t n = 0; n < N; ++n) {
        for (int h = 0; h < num_heads_; ++h) {
          const float* src = qkv + (n * num_heads_ + h) * 3 * D;
          std::copy(src, src + D, q + n * H + h * D);
          std::copy(src + D, src + 2 * D, k + n * H + h * D);
          std::copy(src + 2 * D, src + 3 * D, v + n * H + h * D);
        }
        rope_->apply(q + n * H, num_heads_, head_dim_, s.positions[n], max_pos + 1);
        rope_->apply(k + n * H, num_heads_, head_dim_, s.positions[n], max_pos + 1);
      }
      scatter_heads(k, B, T, num_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, num_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = spec.num_kv_heads = num_heads_;
      spec.head_dim = head_dim_;
      spec.scale = float(std::pow(head_dim_, -0.5));
      attention(spec, B, T, start, q, kv, start + T, attn);
      if (parallel_residual_) {  // hidden = mlp(ln2(hidden)) + attn + hidden
        layer_norm(hidden, N, H, L.post_attention_layernorm_w, L.post_attention_layernorm_b, eps_, x);
        linear_accumulate(attn, N, L.dense, L.dense_b, hidden);
      } else {                   // hidden = attn + hidden; hidden = mlp(ln2(hidden)) + hidden
        linear_accumulate(attn, N, L.dense, L.dense_b, hidden);
        layer_norm(hidden, N, H, L.post_attention_layernorm_w, L.post_attention_layernorm_b, eps_, x);
      }
      linear(x, N, L.dense_h_to_4h, L.dense_h_to_4h_b, ff);
      activate(act_, ff, N * I_);
      linear_accumulate(ff, N, L.dense_4h_to_h, L.dense_4h_to_h_b, hidden);
    }
    float* last = s.last.resize(out_rows * H);
    if (all_positions) layer_norm(hidden, N, H, final_layer_norm_w_, final_layer_norm_b_, eps_, last);
    else
      for (int b = 0; b < B; ++b)
        layer_norm(hidden + (int64_t(b) * T + T - 1) * H, 1, H, final_layer_norm_w_, final_layer_norm_b_, eps_,
                   last + b * H);
    static const TensorView kNone;
    float* logits = s.logits.resize(out_rows * V);
    linear(last, out_rows, embed_out_, kNone, logits);
    return {logits, size_t(out_rows * V)};
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0, I_ = 0;
  int num_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  float eps_ = 1e-5f;
  bool parallel_residual_ = true;
  Activation act_ = Activation::kGelu;
  std::unique_ptr<RotaryEmbedding> rope_;
  TensorView embed_in_;                                // (vocab_size, hidden_size)
  TensorView final_layer_norm_w_, final_layer_norm_b_;  // (hidden_size)
  TensorView embed_out_;                               // (vocab_size, hidden_size)
  std::vector<GPTNeoXLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_gpt_neox(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTNeoXModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
