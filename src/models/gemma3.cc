// Gemma3ForCausalLM (transformers' modeling_gemma3.py, text model) and Gemma2ForCausalLM
// (modeling_gemma2.py), which modular_gemma3.py builds on: embeddings scaled by
// sqrt(hidden_size), RMSNorm with (1 + w), sandwich norms around attention and MLP, scaling
// query_pre_attn_scalar^-0.5, alternating sliding / full layers, logit softcapping. Gemma 3
// adds per-head q/k norms and a separate RoPE base for sliding layers.
#include <cmath>
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GemmaDecoderLayer {
  Norm input_layernorm;             // (hidden_size), 1 + w
  SelfAttention self_attn;          // Gemma3Attention
  Norm post_attention_layernorm;    // (hidden_size)
  Norm pre_feedforward_layernorm;   // (hidden_size)
  Mlp mlp;                          // down(gelu_tanh(gate(x)) * up(x))
  Norm post_feedforward_layernorm;  // (hidden_size)
};

class GemmaForCausalLM final : public DecoderOnlyModel {
 public:
  GemmaForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    const bool gemma3 = config_.model_type == "gemma3_text";
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    // Gemma 2: every other layer slides; Gemma 3: all but every sliding_window_pattern-th.
    const int pattern = gemma3 ? int(config_size_or(c, "sliding_window_pattern", 6)) : 2;
    std::vector<std::string> fallback(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) fallback[i] = (i + 1) % pattern ? "sliding_attention" : "full_attention";
    const auto layer_types = read_layer_types(c, fallback);
    rope_full_ = make_rope(c, "full_attention");
    rope_sliding_ = gemma3 ? make_rope(c, "sliding_attention") : nullptr;  // Gemma 2: one RoPE
    set_computed_positions(c, rope_full_.get());

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6)), /*unit_offset=*/true};
    SelfAttentionOptions attn = attention_options();
    attn.scale = float(std::pow(config_positive(c, "query_pre_attn_scalar", 256), -0.5));  // self.scaling
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", false);
    attn.qk_norm = gemma3 ? QkNorm::kPerHead : QkNorm::kNone;
    attn.qk_norm_options = rms;
    attn.softcap = float(config_optional_positive(c, "attn_logit_softcapping", gemma3 ? 0.0 : 50.0));
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh"),
                               c.source() + ": hidden_activation");

    EmbeddingOptions embed;
    embed.scale = float(std::sqrt(double(s.hidden_size)));  // normalizer = hidden_size**0.5
    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, embed);
    const int window = int(config_size_or(c, "sliding_window", 0));
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      const bool sliding = layer_types[i] == "sliding_attention";
      GemmaDecoderLayer& L = layers_[i];
      attn.sliding_window = sliding ? window : 0;
      attn.rope = sliding && rope_sliding_ ? rope_sliding_.get() : rope_full_.get();
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, rms);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.pre_feedforward_layernorm = Norm::load(*this, p + "pre_feedforward_layernorm", s.hidden_size, rms);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
      L.post_feedforward_layernorm = Norm::load(*this, p + "post_feedforward_layernorm", s.hidden_size, rms);
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    head.final_logit_softcapping = float(config_optional_positive(c, "final_logit_softcapping", gemma3 ? 0.0 : 30.0));
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_gemma3.py: Gemma3TextModel.forward + Gemma3DecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                   2.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
    const int64_t N = int64_t(B) * T, H = z.hidden_size;
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const GemmaDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      float* attn = s.residual.resize(N * H);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, attn, /*accumulate=*/false);
      L.post_attention_layernorm.forward(attn, N, attn);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += attn[i];  // residual + hidden_states
      L.pre_feedforward_layernorm.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, attn, /*accumulate=*/false);
      L.post_feedforward_layernorm.forward(attn, N, attn);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += attn[i];
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head + softcap
  }

 private:
  std::unique_ptr<RotaryEmbedding> rope_full_, rope_sliding_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size) × sqrt(hidden_size)
  std::vector<GemmaDecoderLayer> layers_;
  LmHead lm_head_;
};

}  // namespace

std::unique_ptr<Model> make_gemma(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GemmaForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
