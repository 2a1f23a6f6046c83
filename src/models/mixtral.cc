// Mixtral (transformers' modeling_mixtral.py): Mistral's decoder with the MLP replaced by a
// sparse mixture of experts (block_sparse_moe: softmax router, top-k renormalised).
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/attention.h"
#include "nn/moe.h"
#include "nn/rope.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

struct MoeState : CausalState {
  using CausalState::CausalState;
  MoeScratch moe;
};

struct MixtralLayer {
  TensorView input_layernorm;           // (hidden_size)
  TensorView q_proj, k_proj, v_proj;    // (num_heads*head_dim | num_kv_heads*head_dim, hidden_size)
  TensorView o_proj;                    // (hidden_size, num_heads*head_dim)
  TensorView post_attention_layernorm;  // (hidden_size)
  MoE block_sparse_moe;                 // gate: (num_local_experts, hidden_size), experts w1/w3/w2
};

class MixtralModel final : public LoadedModel {
 public:
  MixtralModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    num_heads_ = int(config_size(c, "num_attention_heads"));
    num_kv_heads_ = int(config_size_or(c, "num_key_value_heads", num_heads_));
    check_divisible(c, "num_attention_heads", num_heads_, "num_key_value_heads", num_kv_heads_);
    if (!c.has("head_dim")) check_divisible(c, "hidden_size", H, "num_attention_heads", num_heads_);
    head_dim_ = int(config_size_or(c, "head_dim", H / num_heads_));
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    const int64_t I = config_size(c, "intermediate_size");
    eps_ = float(config_epsilon(c, "rms_norm_eps", 1e-5));
    sliding_window_ = int(config_size_or(c, "sliding_window", 0));
    MoeOptions moe;
    // Hub configs spell it num_experts (Qwen3-MoE) or num_local_experts; transformers maps one
    // onto the other (attribute_map) and saves num_local_experts.
    const std::string experts_key = c.has("num_local_experts") ? "num_local_experts" : "num_experts";
    moe.num_experts = int(config_size(c, experts_key));
    moe.top_k = int(config_size(c, "num_experts_per_tok"));
    if (moe.top_k > moe.num_experts)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": num_experts_per_tok (" + std::to_string(moe.top_k) +
                                                ") exceeds " + experts_key + " (" + std::to_string(moe.num_experts) + ")");
    moe.norm_topk_prob = true;  // MixtralTopKRouter always renormalises
    moe.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "model.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), head_dim_, 1.0, max_pos);
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;

    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(I, "intermediate_size");
    describe_dim(moe.num_experts, experts_key);
    describe_dim(q_out, "num_attention_heads × head_dim");
    describe_dim(kv_out, "num_key_value_heads × head_dim");
    hidden_size_ = H;
    embed_tokens_ = require_matrix("model.embed_tokens.weight", {V, H});
    norm_ = require("model.norm.weight", {H});
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, "model.embed_tokens.weight",
                       c.get_or<bool>("tie_word_embeddings", false), {V, H});
    const WeightLookup vec = [this](const std::string& n, const Shape& s) { return require(n, s); };
    const WeightLookup mat = [this](const std::string& n, const Shape& s) { return require_matrix(n, s); };
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      MixtralLayer& L = layers_[i];
      L.input_layernorm = require(p + "input_layernorm.weight", {H});
      L.q_proj = require_matrix(p + "self_attn.q_proj.weight", {q_out, H});
      L.k_proj = require_matrix(p + "self_attn.k_proj.weight", {kv_out, H});
      L.v_proj = require_matrix(p + "self_attn.v_proj.weight", {kv_out, H});
      L.o_proj = require_matrix(p + "self_attn.o_proj.weight", {H, q_out});
      L.post_attention_layernorm = require(p + "post_attention_layernorm.weight", {H});
      L.block_sparse_moe = MoE(moe, MoeNames::mixtral(), p + "block_sparse_moe.", H, I, 0, vec, mat);
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<MoeState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<MoeState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_, V = config_.vocab_size;
    const int64_t q_out = int64_t(num_heads_) * head_dim_, kv_out = int64_t(num_kv_heads_) * head_dim_;
    int64_t max_pos = 0;
    for (int64_t p : s.positions) max_pos = std::max(max_pos, p);
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (4 * H + 2 * q_out + 2 * kv_out) + double(out_rows) * (H + V), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    float* q = s.q.resize(N * q_out);        // (batch*seq_len, num_heads*head_dim)
    float* k = s.k.resize(N * kv_out);       // (batch*seq_len, num_kv_heads*head_dim)
    float* v = s.v.resize(N * kv_out);
    float* attn = s.attn.resize(N * q_out);
    for (int64_t n = 0; n < N; ++n) copy_row(embed_tokens_, ids[n], hidden + n * H);
    static const TensorView kNone;
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    for (int l = 0; l < num_layers_; ++l) {
      const MixtralLayer& L = layers_[l];
      layer_index = l;
      rms_norm(hidden, N, H, L.input_layernorm, eps_, x);
      linear_fused(x, N, {{L.q_proj, kNone, q}, {L.k_proj, kNone, k}, {L.v_proj, kNone, v}});
      for (int64_t n = 0; n < N; ++n) {
        rope_->apply(q + n * q_out, num_heads_, head_dim_, s.positions[n], max_pos + 1);
        rope_->apply(k + n * kv_out, num_kv_heads_, head_dim_, s.positions[n], max_pos + 1);
      }
      scatter_heads(k, B, T, num_kv_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, num_kv_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = num_heads_;
      spec.num_kv_heads = num_kv_heads_;
      spec.head_dim = head_dim_;
      spec.scale = float(std::pow(head_dim_, -0.5));
      spec.sliding_window = sliding_window_;
      attention(spec, B, T, start, q, kv, start + T, attn);
      linear_accumulate(attn, N, L.o_proj, kNone, hidden);
      rms_norm(hidden, N, H, L.post_attention_layernorm, eps_, x);
      L.block_sparse_moe.forward_accumulate(x, N, hidden, s.moe);
    }
    float* last = s.last.resize(out_rows * H);
    if (all_positions) rms_norm(hidden, N, H, norm_, eps_, last);
    else
      for (int b = 0; b < B; ++b) rms_norm(hidden + (int64_t(b) * T + T - 1) * H, 1, H, norm_, eps_, last + b * H);
    float* logits = s.logits.resize(out_rows * V);
    linear(last, out_rows, lm_head_, kNone, logits);
    return {logits, size_t(out_rows * V)};
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0;
  int num_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0, num_layers_ = 0, sliding_window_ = 0;
  float eps_ = 1e-5f;
  std::unique_ptr<RotaryEmbedding> rope_;
  TensorView embed_tokens_;  // (vocab_size, hidden_size)
  TensorView norm_;          // (hidden_size)
  TensorView lm_head_;       // (vocab_size, hidden_size)
  std::vector<MixtralLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_mixtral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<MixtralModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
