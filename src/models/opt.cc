// OPT (transformers' modeling_opt.py): learned positions stored with an offset of 2, LayerNorm
// before (do_layer_norm_before, 125m and ≥ 1.3b) or after (350m) each sublayer, ReLU MLP fc1/fc2,
// and project_in/project_out when word_embed_proj_dim differs from hidden_size (350m). Layers
// from the nn blocks; embeddings and head here (project_in/out sit between them and the blocks).
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/self_attention.h"
#include "ops/linear.h"

namespace autolm {

namespace {

constexpr int64_t kPositionOffset = 2;  // OPTLearnedPositionalEmbedding.offset

struct OPTDecoderLayer {
  SelfAttention self_attn;    // q/k/v/out_proj (hidden_size, hidden_size) with enable_bias, no rotary
  Norm self_attn_layer_norm;  // LayerNorm (hidden_size)
  Mlp mlp;                    // fc1 (ffn_dim, hidden_size) → act → fc2
  Norm final_layer_norm;      // LayerNorm (hidden_size)
};

class OPTModel final : public LoadedModel {
 public:
  OPTModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    P_ = config_size_or(c, "word_embed_proj_dim", H);
    SelfAttentionOptions attn;
    attn.hidden_size = H;
    attn.num_heads = attn.num_kv_heads = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", attn.num_heads);
    attn.head_dim = int(H / attn.num_heads);
    attn.scale = float(std::pow(attn.head_dim, -0.5));
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("enable_bias", true);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    const int64_t F = config_size(c, "ffn_dim");
    max_pos_ = config_size(c, "max_position_embeddings");
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = attn.qkv_bias;
    mlp.act = parse_activation(c.get_or<std::string>("activation_function", "relu"), c.source() + ": activation_function");
    pre_ln_ = c.get_or<bool>("do_layer_norm_before", true);
    if (!c.get_or<bool>("layer_norm_elementwise_affine", true))
      throw Error(ErrorKind::kUnsupported, c.source() + ": layer_norm_elementwise_affine = false is not supported");
    const NormOptions norm{NormKind::kLayer, 1e-5f, false, true, true};  // nn.LayerNorm's default eps
    // The learned position table is a hard limit.
    positions_ = {max_pos_, c.source() + ": max_position_embeddings = " + std::to_string(max_pos_), ""};
    config_.max_positions = max_pos_;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(P_, "word_embed_proj_dim");
    describe_dim(F, "ffn_dim");
    describe_dim(max_pos_ + kPositionOffset, "max_position_embeddings + 2");
    hidden_size_ = H;
    num_heads_ = attn.num_heads;
    head_dim_ = attn.head_dim;
    // OPTForCausalLM saves "model.decoder.…"; some original Hub checkpoints drop "model.".
    const std::string d = weights_->has("model.decoder.embed_tokens.weight") ? "model.decoder." : "decoder.";
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, d + "layers.");
    embed_tokens_ = require_matrix(d + "embed_tokens.weight", {V, P_});
    embed_positions_ = require(d + "embed_positions.weight", {max_pos_ + kPositionOffset, H});
    if (P_ != H) {
      project_in_ = require_matrix(d + "project_in.weight", {H, P_});
      project_out_ = require_matrix(d + "project_out.weight", {P_, H});
    }
    if (pre_ln_ && !c.get_or<bool>("_remove_final_layer_norm", false))
      final_layer_norm_ = Norm::load(*this, d + "final_layer_norm", H, norm);
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, d + "embed_tokens.weight",
                       c.get_or<bool>("tie_word_embeddings", true), {V, P_});
    SelfAttentionNames attn_names;
    attn_names.o = "out_proj";
    MlpNames mlp_names;
    mlp_names.up = "fc1";
    mlp_names.down = "fc2";
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = d + "layers." + std::to_string(i) + ".";
      OPTDecoderLayer& L = layers_[i];
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn, attn_names);
      L.self_attn_layer_norm = Norm::load(*this, p + "self_attn_layer_norm", H, norm);
      L.mlp = Mlp::load(*this, p, H, F, mlp, mlp_names);
      L.final_layer_norm = Norm::load(*this, p + "final_layer_norm", H, norm);
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
    check_scratch(double(N) * (10 * H + P_) + double(out_rows) * (H + P_ + V), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    static const TensorView kNone;
    // inputs_embeds = project_in(embed_tokens(ids)); hidden = inputs_embeds + embed_positions(pos + 2)
    float* emb = P_ != H ? s.residual.resize(N * P_) : hidden;  // (batch*seq_len, word_embed_proj_dim)
    for (int64_t n = 0; n < N; ++n) copy_row(embed_tokens_, ids[n], emb + n * P_);
    if (P_ != H) linear(emb, N, project_in_, kNone, hidden);
    for (int64_t n = 0; n < N; ++n) {
      const float* pe = embed_positions_.row(s.positions[n] + kPositionOffset);
      for (int64_t i = 0; i < H; ++i) hidden[n * H + i] += pe[i];
    }
    for (int l = 0; l < num_layers_; ++l) {
      const OPTDecoderLayer& L = layers_[l];
      if (pre_ln_) {  // 125m, 1.3b, …: hidden += attn(ln(hidden)); hidden += mlp(ln(hidden))
        L.self_attn_layer_norm.forward(hidden, N, x);
        L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
        L.final_layer_norm.forward(hidden, N, x);
        L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
      } else {        // 350m: hidden = ln(hidden + attn(hidden)); hidden = ln(hidden + mlp(hidden))
        L.self_attn.forward(hidden, B, T, start, s.positions, s.cache, l, s.ws, x, /*accumulate=*/false);
        for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];
        L.self_attn_layer_norm.forward(hidden, N, hidden);
        L.mlp.forward(hidden, N, s.ws, x, /*accumulate=*/false);
        for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];
        L.final_layer_norm.forward(hidden, N, hidden);
      }
    }
    // final_layer_norm (pre-LN models), project_out, lm_head on every position or each row's last.
    float* last = s.last.resize(out_rows * H);
    for (int64_t r = 0; r < out_rows; ++r) {
      const float* src = hidden + (all_positions ? r : r * T + T - 1) * H;
      if (!final_layer_norm_.empty()) final_layer_norm_.forward(src, 1, last + r * H);
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
  int64_t hidden_size_ = 0, P_ = 0, max_pos_ = 0;
  int num_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  bool pre_ln_ = true;
  TensorView embed_tokens_;     // (vocab_size, word_embed_proj_dim)
  TensorView embed_positions_;  // (max_position_embeddings + 2, hidden_size)
  TensorView project_in_;       // (hidden_size, word_embed_proj_dim) or empty
  TensorView project_out_;      // (word_embed_proj_dim, hidden_size) or empty
  Norm final_layer_norm_;       // pre-LN models: LayerNorm (hidden_size)
  TensorView lm_head_;          // (vocab_size, word_embed_proj_dim): embed_tokens_ when tied
  std::vector<OPTDecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_opt(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<OPTModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
