// PhiForCausalLM, Phi-1/1.5/2 (transformers' modeling_phi.py): one LayerNorm feeds attention and
// MLP in parallel (hidden = attn + mlp + residual), partial rotary embeddings, biases everywhere
// (lm_head too), optional LayerNorm on q and k per head (qk_layernorm).
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct PhiDecoderLayer {
  Norm input_layernorm;     // LayerNorm (hidden_size), weight + bias
  SelfAttention self_attn;  // q/k/v_proj + dense, all with bias; partial rotary
  Mlp mlp;                  // fc1 (intermediate_size, hidden_size) → act → fc2
};

class PhiForCausalLM final : public DecoderOnlyModel {
 public:
  PhiForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    // partial_rotary_factor: top level in Hub configs, inside rope_parameters once transformers 5 saved it.
    rotary_emb_ = make_rope(c, "full_attention", c.get_or<double>("partial_rotary_factor", 0.5));
    set_computed_positions(c, rotary_emb_.get());

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_eps", 1e-5)), false, true, true};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = true;
    attn.rope = rotary_emb_.get();
    if (c.get_or<bool>("qk_layernorm", false)) {  // nn.LayerNorm(head_dim) on q and on k
      attn.qk_norm = QkNorm::kPerHead;
      attn.qk_norm_options = ln;
    }
    SelfAttentionNames attn_names;
    attn_names.o = "dense";
    attn_names.q_norm = "q_layernorm";
    attn_names.k_norm = "k_layernorm";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "gelu_new"), c.source() + ": hidden_act");
    MlpNames mlp_names;
    mlp_names.up = "fc1";
    mlp_names.down = "fc2";

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      PhiDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, ln);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.bias = true;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    LmHeadNames head_names;
    head_names.norm = "model.final_layernorm";
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight",
                            head, head_names);
    finish_loading();
  }

  // Equivalent in modeling_phi.py: PhiModel.forward + PhiDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 10.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);            // input_layernorm(hidden), shared by attention and MLP
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const PhiDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      // hidden = self_attn(x) + mlp(x) + hidden
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // final_layernorm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<PhiDecoderLayer> layers_;
  LmHead lm_head_;          // final_layernorm + lm_head with bias
};

}  // namespace

std::unique_ptr<Model> make_phi(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<PhiForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
