// OPT (transformers' modeling_opt.py): learned positions stored with an offset of 2, LayerNorm
// before (do_layer_norm_before, 125m and ≥ 1.3b) or after (350m) each sublayer, ReLU MLP fc1/fc2,
// and project_in/project_out when word_embed_proj_dim differs from hidden_size (350m).
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/attention.h"
#include "ops/activations.h"
#include "ops/linear.h"
#include "ops/norms.h"

namespace autolm {

namespace {

constexpr int64_t kPositionOffset = 2;  // OPTLearnedPositionalEmbedding.offset

struct OPTLayer {
  TensorView q_proj, k_proj, v_proj, out_proj;  // (hidden_size, hidden_size)
  TensorView q_bias, k_bias, v_bias, out_bias;  // enable_bias: (hidden_size)
  TensorView self_attn_layer_norm_w, self_attn_layer_norm_b;  // (hidden_size)
  TensorView fc1, fc1_b;                        // (ffn_dim, hidden_size), (ffn_dim)
  TensorView fc2, fc2_b;                        // (hidden_size, ffn_dim), (hidden_size)
  TensorView final_layer_norm_w, final_layer_norm_b;  // (hidden_size)
};

class OPTModel final : public LoadedModel {
 public:
  OPTModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    P_ = config_size_or(c, "word_embed_proj_dim", H);
    num_heads_ = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", num_heads_);
    head_dim_ = int(H / num_heads_);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    F_ = config_size(c, "ffn_dim");
    max_pos_ = config_size(c, "max_position_embeddings");
    act_ = parse_activation(c.get_or<std::string>("activation_function", "relu"), c.source() + ": activation_function");
    pre_ln_ = c.get_or<bool>("do_layer_norm_before", true);
    if (!c.get_or<bool>("layer_norm_elementwise_affine", true))
      throw Error(ErrorKind::kUnsupported, c.source() + ": layer_norm_elementwise_affine = false is not supported");
    // The learned position table is a hard limit.
    positions_ = {max_pos_, c.source() + ": max_position_embeddings = " + std::to_string(max_pos_), ""};
    config_.max_positions = max_pos_;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(P_, "word_embed_proj_dim");
    describe_dim(F_, "ffn_dim");
    describe_dim(max_pos_ + kPositionOffset, "max_position_embeddings + 2");
    hidden_size_ = H;
    // OPTForCausalLM saves "model.decoder.…"; some original Hub checkpoints drop "model.".
    const std::string d = weights_->has("model.decoder.embed_tokens.weight") ? "model.decoder." : "decoder.";
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, d + "layers.");
    embed_tokens_ = require_matrix(d + "embed_tokens.weight", {V, P_});
    embed_positions_ = require(d + "embed_positions.weight", {max_pos_ + kPositionOffset, H});
    if (P_ != H) {
      project_in_ = require_matrix(d + "project_in.weight", {H, P_});
      project_out_ = require_matrix(d + "project_out.weight", {P_, H});
    }
    if (pre_ln_ && !c.get_or<bool>("_remove_final_layer_norm", false)) {
      final_layer_norm_w_ = require(d + "final_layer_norm.weight", {H});
      final_layer_norm_b_ = require(d + "final_layer_norm.bias", {H});
    }
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, d + "embed_tokens.weight",
                       c.get_or<bool>("tie_word_embeddings", true), {V, P_});
    const bool bias = c.get_or<bool>("enable_bias", true);
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = d + "layers." + std::to_string(i) + ".";
      OPTLayer& L = layers_[i];
      L.q_proj = require_matrix(p + "self_attn.q_proj.weight", {H, H});
      L.k_proj = require_matrix(p + "self_attn.k_proj.weight", {H, H});
      L.v_proj = require_matrix(p + "self_attn.v_proj.weight", {H, H});
      L.out_proj = require_matrix(p + "self_attn.out_proj.weight", {H, H});
      L.fc1 = require_matrix(p + "fc1.weight", {F_, H});
      L.fc2 = require_matrix(p + "fc2.weight", {H, F_});
      if (bias) {
        L.q_bias = require(p + "self_attn.q_proj.bias", {H});
        L.k_bias = require(p + "self_attn.k_proj.bias", {H});
        L.v_bias = require(p + "self_attn.v_proj.bias", {H});
        L.out_bias = require(p + "self_attn.out_proj.bias", {H});
        L.fc1_b = require(p + "fc1.bias", {F_});
        L.fc2_b = require(p + "fc2.bias", {H});
      }
      L.self_attn_layer_norm_w = require(p + "self_attn_layer_norm.weight", {H});
      L.self_attn_layer_norm_b = require(p + "self_attn_layer_norm.bias", {H});
      L.final_layer_norm_w = require(p + "final_layer_norm.weight", {H});
      L.final_layer_norm_b = require(p + "final_layer_norm.bias", {H});
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
    const int64_t N = int64_t(B) * T, H = hidden_size_, V = config_.vocab_size;
    for (int64_t p : s.positions)
      if (p >= max_pos_)
        throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(p) + " is beyond OPT's max_position_embeddings (" +
                                                  std::to_string(max_pos_) + ")");
    const int64_t out_rows = all_positions ? N : B;
    check_scratch(double(N) * (7 * H + F_ + P_) + double(out_rows) * (H + P_ + V), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    float* q = s.q.resize(N * H);
    float* k = s.k.resize(N * H);
    float* v = s.v.resize(N * H);
    float* attn = s.attn.resize(N * H);
    float* ff = s.up.resize(N * F_);          // (batch*seq_len, ffn_dim)
    // inputs_embeds = project_in(embed_tokens(ids)); hidden = inputs_embeds + embed_positions(pos + 2)
    float* emb = P_ != H ? s.gate.resize(N * P_) : hidden;  // (batch*seq_len, word_embed_proj_dim)
    for (int64_t n = 0; n < N; ++n) copy_row(embed_tokens_, ids[n], emb + n * P_);
    static const TensorView kNone;
    if (P_ != H) linear(emb, N, project_in_, kNone, hidden);
    for (int64_t n = 0; n < N; ++n) {
      const float* pe = embed_positions_.row(s.positions[n] + kPositionOffset);
      for (int64_t i = 0; i < H; ++i) hidden[n * H + i] += pe[i];
    }
    int layer_index = 0;
    const KVSource kv = s.cache.source(layer_index);
    const float eps = 1e-5f;  // nn.LayerNorm's default
    for (int l = 0; l < num_layers_; ++l) {
      const OPTLayer& L = layers_[l];
      layer_index = l;
      const float* attn_in = hidden;
      if (pre_ln_) {
        layer_norm(hidden, N, H, L.self_attn_layer_norm_w, L.self_attn_layer_norm_b, eps, x);
        attn_in = x;
      }
      linear_fused(attn_in, N, {{L.q_proj, L.q_bias, q}, {L.k_proj, L.k_bias, k}, {L.v_proj, L.v_bias, v}});
      scatter_heads(k, B, T, num_heads_, head_dim_, s.cache.k(l, 0, 0), s.cache.max_len(), start);
      scatter_heads(v, B, T, num_heads_, head_dim_, s.cache.v(l, 0, 0), s.cache.max_len(), start);
      AttentionSpec spec;
      spec.num_heads = spec.num_kv_heads = num_heads_;
      spec.head_dim = head_dim_;
      spec.scale = float(std::pow(head_dim_, -0.5));
      attention(spec, B, T, start, q, kv, start + T, attn);
      linear_accumulate(attn, N, L.out_proj, L.out_bias, hidden);
      if (!pre_ln_) layer_norm(hidden, N, H, L.self_attn_layer_norm_w, L.self_attn_layer_norm_b, eps, hidden);
      const float* mlp_in = hidden;
      if (pre_ln_) {
        layer_norm(hidden, N, H, L.final_layer_norm_w, L.final_layer_norm_b, eps, x);
        mlp_in = x;
      }
      linear(mlp_in, N, L.fc1, L.fc1_b, ff);
      activate(act_, ff, N * F_);
      linear_accumulate(ff, N, L.fc2, L.fc2_b, hidden);
      if (!pre_ln_) layer_norm(hidden, N, H, L.final_layer_norm_w, L.final_layer_norm_b, eps, hidden);
    }
    // final_layer_norm (pre-LN models), project_out, lm_head on every position or each row's last.
    float* last = s.last.resize(out_rows * H);
    for (int64_t r = 0; r < out_rows; ++r) {
      const float* src = hidden + (all_positions ? r : r * T + T - 1) * H;
      if (!final_layer_norm_w_.empty()) layer_norm(src, 1, H, final_layer_norm_w_, final_layer_norm_b_, eps, last + r * H);
      else std::copy(src, src + H, last + r * H);
    }
    const float* head_in = last;
    if (P_ != H) {
      float* projected = s.x.resize(out_rows * P_);  // (rows, word_embed_proj_dim)
      linear(last, out_rows, project_out_, kNone, projected);
      head_in = projected;
    }
    float* logits = s.logits.resize(out_rows * V);
    linear(head_in, out_rows, lm_head_, kNone, logits);
    return {logits, size_t(out_rows * V)};
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0, P_ = 0, F_ = 0, max_pos_ = 0;
  int num_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  bool pre_ln_ = true;
  Activation act_ = Activation::kRelu;
  TensorView embed_tokens_;     // (vocab_size, word_embed_proj_dim)
  TensorView embed_positions_;  // (max_position_embeddings + 2, hidden_size)
  TensorView project_in_;       // (hidden_size, word_embed_proj_dim) or empty
  TensorView project_out_;      // (word_embed_proj_dim, hidden_size) or empty
  TensorView final_layer_norm_w_, final_layer_norm_b_;  // pre-LN models: (hidden_size)
  TensorView lm_head_;          // (vocab_size, word_embed_proj_dim): embed_tokens_ when tied
  std::vector<OPTLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_opt(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<OPTModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
