// CohereForCausalLM (transformers' modeling_cohere.py, Command-R): one LayerNorm (no bias)
// feeding attention and MLP in parallel (x + attn(ln(x)) + mlp(ln(x))), RoPE on interleaved
// pairs, optional per-head q/k LayerNorms (use_qk_norm), logits × logit_scale.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct CohereDecoderLayer {
  Norm input_layernorm;     // CohereLayerNorm (hidden_size): weight, no bias
  SelfAttention self_attn;  // CohereAttention
  Mlp mlp;                  // down(silu(gate(x)) * up(x))
};

class CohereForCausalLM final : public DecoderOnlyModel {
 public:
  CohereForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    rotary_emb_->set_interleaved(true);  // repeat_interleave(freqs, 2) instead of cat
    set_computed_positions(c, rotary_emb_.get());

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_eps", 1e-5)), false, true, false};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", false);
    if (c.get_or<bool>("use_qk_norm", false)) {
      attn.qk_norm = QkNorm::kPerHeadDistinct;  // CohereLayerNorm((num_heads, head_dim))
      attn.qk_norm_options = ln;
    }
    attn.rope = rotary_emb_.get();
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      CohereDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, ln);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    head.logit_scale = float(config_positive(c, "logit_scale", 0.0625));
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_cohere.py: CohereModel.forward + CohereDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                   2.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const CohereDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      // residual + hidden_states_attention + hidden_states_mlp, both from the same normed x.
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm, lm_head, × logit_scale
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<CohereDecoderLayer> layers_;
  LmHead lm_head_;
};

}  // namespace

std::unique_ptr<Model> make_cohere(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<CohereForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
