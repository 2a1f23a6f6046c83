// Starcoder2ForCausalLM (transformers' modeling_starcoder2.py): the Mistral-shaped decoder with
// LayerNorm (weight and bias), a plain MLP c_fc → act → c_proj, biases on every projection
// (use_bias) and a sliding window on every layer when sliding_window is set.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct Starcoder2DecoderLayer {
  Norm input_layernorm;           // LayerNorm (hidden_size), weight + bias
  SelfAttention self_attn;        // q/k/v/o_proj with use_bias, rotary, sliding_window
  Norm post_attention_layernorm;  // LayerNorm (hidden_size)
  Mlp mlp;                        // c_fc (intermediate_size, hidden_size) → act → c_proj
};

class Starcoder2ForCausalLM final : public DecoderOnlyModel {
 public:
  Starcoder2ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "norm_epsilon", 1e-5)), false, true, true};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("use_bias", true);
    attn.sliding_window = int(config_size_or(c, "sliding_window", 0));
    attn.rope = rotary_emb_.get();
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = attn.qkv_bias;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "gelu_pytorch_tanh"), c.source() + ": hidden_act");
    MlpNames mlp_names;
    mlp_names.up = "c_fc";
    mlp_names.down = "c_proj";

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Starcoder2DecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, ln);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, ln);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_starcoder2.py: Starcoder2Model.forward + Starcoder2DecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 8.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);            // normed hidden states
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const Starcoder2DecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);  // residual +
      L.post_attention_layernorm.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<Starcoder2DecoderLayer> layers_;
  LmHead lm_head_;          // model.norm (LayerNorm) + lm_head (tied by default)
};

}  // namespace

std::unique_ptr<Model> make_starcoder2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Starcoder2ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
