// StableLmForCausalLM (transformers' modeling_stablelm.py): LayerNorm (with bias) blocks, RoPE
// on the first partial_rotary_factor of each head, optional q/k/v bias (use_qkv_bias), optional
// per-head q/k LayerNorms (qk_layernorm), and the parallel residual of StableLM-2 12B
// (use_parallel_residual: x + attn(ln(x)) + mlp(ln(x))).
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct StableLmDecoderLayer {
  Norm input_layernorm;           // (hidden_size) weight, bias
  SelfAttention self_attn;        // StableLmAttention
  Norm post_attention_layernorm;  // (hidden_size); absent with use_parallel_residual
  Mlp mlp;                        // down(silu(gate(x)) * up(x))
};

class StableLmForCausalLM final : public DecoderOnlyModel {
 public:
  StableLmForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c, "full_attention", c.get_or<double>("partial_rotary_factor", 0.25));
    set_computed_positions(c, rotary_emb_.get());
    parallel_residual_ = c.get_or<bool>("use_parallel_residual", false);

    const float eps = float(config_epsilon(c, "layer_norm_eps", 1e-5));
    const NormOptions ln{NormKind::kLayer, eps, false, true, /*bias=*/true};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = c.get_or<bool>("use_qkv_bias", false);
    if (c.get_or<bool>("qk_layernorm", false)) {
      attn.qk_norm = QkNorm::kPerHeadModules;  // StableLmLayerNormPerHead: LayerNorm(head_dim, bias=False) per head
      attn.qk_norm_options = {NormKind::kLayer, eps, false, true, false};
    }
    attn.rope = rotary_emb_.get();
    SelfAttentionNames attn_names;
    attn_names.q_norm = "q_layernorm";
    attn_names.k_norm = "k_layernorm";
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      StableLmDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, ln);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn, attn_names);
      if (!parallel_residual_) L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, ln);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_stablelm.py: StableLmModel.forward + StableLmDecoderLayer.forward.
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
      const StableLmDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      // Parallel: residual + attn(ln(x)) + mlp(ln(x)); else mlp(post_attention_layernorm(residual + attn)).
      if (!parallel_residual_) L.post_attention_layernorm.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  bool parallel_residual_ = false;
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<StableLmDecoderLayer> layers_;
  LmHead lm_head_;          // norm (LayerNorm) + lm_head
};

}  // namespace

std::unique_ptr<Model> make_stablelm(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<StableLmForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
