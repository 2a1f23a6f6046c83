// Olmo2ForCausalLM (transformers' modeling_olmo2.py, modular from OLMo): no norm before
// attention or MLP, RMSNorm after each (post_attention_layernorm, post_feedforward_layernorm),
// and q/k RMSNorm over the whole projection before RoPE.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct Olmo2DecoderLayer {
  SelfAttention self_attn;          // Olmo2Attention: q_norm (num_heads*head_dim), k_norm (num_kv_heads*head_dim)
  Norm post_attention_layernorm;    // (hidden_size)
  Mlp mlp;                          // down(silu(gate(x)) * up(x))
  Norm post_feedforward_layernorm;  // (hidden_size)
};

class Olmo2ForCausalLM final : public DecoderOnlyModel {
 public:
  Olmo2ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6))};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", false);
    attn.qk_norm = QkNorm::kFull;
    attn.qk_norm_options = rms;
    attn.rope = rotary_emb_.get();
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Olmo2DecoderLayer& L = layers_[i];
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
      L.post_feedforward_layernorm = Norm::load(*this, p + "post_feedforward_layernorm", s.hidden_size, rms);
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_olmo2.py: Olmo2Model.forward + Olmo2DecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                   2.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
    const int64_t N = int64_t(B) * T, H = z.hidden_size;
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);            // a branch's output
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const Olmo2DecoderLayer& L = layers_[l];
      L.self_attn.forward(hidden, B, T, start, s.positions, s.cache, l, s.ws, x, /*accumulate=*/false);
      L.post_attention_layernorm.forward(x, N, x);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];  // residual + hidden_states
      L.mlp.forward(hidden, N, s.ws, x, /*accumulate=*/false);
      L.post_feedforward_layernorm.forward(x, N, x);
      for (int64_t i = 0; i < N * H; ++i) hidden[i] += x[i];
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<Olmo2DecoderLayer> layers_;
  LmHead lm_head_;
};

}  // namespace

std::unique_ptr<Model> make_olmo2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Olmo2ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
