// OPTForCausalLM (transformers' modeling_opt.py): learned positions stored with an offset of 2,
// LayerNorm before (do_layer_norm_before: 125m, ≥ 1.3b) or after (350m) each sublayer, ReLU MLP
// fc1/fc2, project_in/out around the layers when word_embed_proj_dim differs from hidden_size.
#include <algorithm>
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/mlp.h"
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

class OPTForCausalLM final : public DecoderOnlyModel {
 public:
  OPTForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    // OPTForCausalLM saves "model.decoder.…"; some original Hub checkpoints drop "model.".
    const std::string d = weights_->has("model.decoder.embed_tokens.weight") ? "model.decoder." : "decoder.";
    read_sizes(c, d + "layers.", {.num_key_value_heads = "num_attention_heads", .intermediate_size = "ffn_dim"});
    const DecoderSizes& s = sizes_;
    const int64_t H = s.hidden_size, V = config_.vocab_size, max_pos = config_size(c, "max_position_embeddings");
    P_ = config_size_or(c, "word_embed_proj_dim", H);
    describe_dim(P_, "word_embed_proj_dim");
    describe_dim(max_pos + kPositionOffset, "max_position_embeddings + 2");
    set_table_positions(max_pos, c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    do_layer_norm_before_ = c.get_or<bool>("do_layer_norm_before", true);
    if (!c.get_or<bool>("layer_norm_elementwise_affine", true))
      throw Error(ErrorKind::kUnsupported, c.source() + ": layer_norm_elementwise_affine = false is not supported");

    const NormOptions ln{NormKind::kLayer, 1e-5f, false, true, true};  // nn.LayerNorm's default eps
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("enable_bias", true);
    SelfAttentionNames attn_names;
    attn_names.o = "out_proj";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = attn.qkv_bias;
    mlp.act = parse_activation(c.get_or<std::string>("activation_function", "relu"), c.source() + ": activation_function");
    MlpNames mlp_names;
    mlp_names.up = "fc1";
    mlp_names.down = "fc2";

    embed_tokens_ = require_matrix(d + "embed_tokens.weight", {V, P_});
    embed_positions_ = require(d + "embed_positions.weight", {max_pos + kPositionOffset, H});
    if (P_ != H) {
      project_in_ = require_matrix(d + "project_in.weight", {H, P_});
      project_out_ = require_matrix(d + "project_out.weight", {P_, H});
    }
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = d + "layers." + std::to_string(i) + ".";
      OPTDecoderLayer& L = layers_[i];
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn, attn_names);
      L.self_attn_layer_norm = Norm::load(*this, p + "self_attn_layer_norm", H, ln);
      L.mlp = Mlp::load(*this, p, H, s.intermediate_size, mlp, mlp_names);
      L.final_layer_norm = Norm::load(*this, p + "final_layer_norm", H, ln);
    }
    if (do_layer_norm_before_ && !c.get_or<bool>("_remove_final_layer_norm", false))
      final_layer_norm_ = Norm::load(*this, d + "final_layer_norm", H, ln);
    lm_head_ = lm_head("lm_head.weight", embed_tokens_, d + "embed_tokens.weight",
                       c.get_or<bool>("tie_word_embeddings", true), {V, P_});
    finish_loading();
  }

  // Equivalent in modeling_opt.py: OPTDecoder.forward + OPTDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int64_t N = int64_t(B) * T, H = z.hidden_size, V = config_.vocab_size, out_rows = all_positions ? N : B;
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 10.0 * H + 2.0 * P_);
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
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const OPTDecoderLayer& L = layers_[l];
      if (do_layer_norm_before_) {  // 125m, 1.3b, …: hidden += attn(ln(hidden)); hidden += mlp(ln(hidden))
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
  int64_t P_ = 0;  // word_embed_proj_dim
  bool do_layer_norm_before_ = true;
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
  return std::make_unique<OPTForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
