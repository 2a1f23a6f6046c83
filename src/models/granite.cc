// GraniteForCausalLM (transformers' modeling_granite.py, modular from Llama): LlamaDecoderLayer
// with the μP multipliers: embeddings × embedding_multiplier, attention scaling
// attention_multiplier, each residual branch × residual_multiplier, logits / logits_scaling.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GraniteDecoderLayer {
  Norm input_layernorm;           // (hidden_size)
  SelfAttention self_attn;        // GraniteAttention
  Norm post_attention_layernorm;  // (hidden_size)
  Mlp mlp;                        // down(silu(gate(x)) * up(x))
};

class GraniteForCausalLM final : public DecoderOnlyModel {
 public:
  GraniteForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());
    residual_multiplier_ = float(config_positive(c, "residual_multiplier", 1.0));

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6))};
    SelfAttentionOptions attn = attention_options();
    attn.scale = float(config_positive(c, "attention_multiplier", 1.0));  // self.scaling = attention_multiplier
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", false);
    attn.rope = rotary_emb_.get();
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
    mlp.bias = c.get_or<bool>("mlp_bias", false);

    EmbeddingOptions embed;
    embed.scale = float(config_positive(c, "embedding_multiplier", 1.0));
    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, embed);
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      GraniteDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, rms);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    head.logits_scaling = float(config_positive(c, "logits_scaling", 1.0));
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_granite.py: GraniteModel.forward + GraniteDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                   3.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
    const int64_t N = int64_t(B) * T, H = z.hidden_size;
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    float* branch = s.residual.resize(N * H);
    embed_tokens_.forward(ids, s.positions, hidden);  // inputs_embeds * embedding_multiplier
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const GraniteDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, branch, /*accumulate=*/false);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += branch[i] * residual_multiplier_;
      L.post_attention_layernorm.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, branch, /*accumulate=*/false);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += branch[i] * residual_multiplier_;
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm, lm_head, / logits_scaling
  }

 private:
  float residual_multiplier_ = 1.f;
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<GraniteDecoderLayer> layers_;
  LmHead lm_head_;
};

}  // namespace

std::unique_ptr<Model> make_granite(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GraniteForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
