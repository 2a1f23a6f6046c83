// GPTNeoXForCausalLM / Pythia (transformers' modeling_gpt_neox.py): fused query_key_value laid
// out per head ([q, k, v] of head 0, then head 1, …), partial rotary (rotary_pct), LayerNorms with
// bias, parallel residual (hidden = attn(ln1(h)) + mlp(ln2(h)) + h) or sequential, untied embed_out.
#include <memory>

#include "models/decoder_only.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct GPTNeoXLayer {
  Norm input_layernorm;           // LayerNorm (hidden_size), weight + bias
  Norm post_attention_layernorm;  // LayerNorm (hidden_size)
  SelfAttention attention;        // query_key_value (3*hidden_size, hidden_size) per head [q, k, v]; dense
  Mlp mlp;                        // dense_h_to_4h (intermediate_size, hidden_size) → act → dense_4h_to_h
};

class GPTNeoXForCausalLM final : public DecoderOnlyModel {
 public:
  GPTNeoXForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    DecoderKeys keys;
    keys.num_key_value_heads = "num_attention_heads";  // no GQA
    read_sizes(c, "gpt_neox.layers.", keys);
    const DecoderSizes& s = sizes_;
    // Hub configs: rotary_pct / rotary_emb_base; transformers 5 saves them in rope_parameters.
    nlohmann::json params = rope_parameters_for(c).raw();
    if (!c.has("rope_parameters") && c.has("rotary_emb_base")) params["rope_theta"] = c.raw()["rotary_emb_base"];
    rotary_emb_ = make_rope(c, JsonConfig(params, c.source()), c.get_or<double>("rotary_pct", 0.25), "rotary_pct");
    set_computed_positions(c, rotary_emb_.get());
    use_parallel_residual_ = c.get_or<bool>("use_parallel_residual", true);

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_eps", 1e-5)), false, true, true};
    SelfAttentionOptions attn = attention_options();
    attn.layout = QkvLayout::kGrouped;  // view(..., num_heads, 3*head_size).chunk(3): one q per group
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", true);
    attn.rope = rotary_emb_.get();
    SelfAttentionNames attn_names;
    attn_names.qkv = "query_key_value";
    attn_names.o = "dense";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "gelu"), c.source() + ": hidden_act");
    MlpNames mlp_names;
    mlp_names.up = "dense_h_to_4h";
    mlp_names.down = "dense_4h_to_h";

    embed_in_ = Embedding::load(*this, "gpt_neox.embed_in.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "gpt_neox.layers." + std::to_string(i) + ".";
      GPTNeoXLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, ln);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, ln);
      L.attention = SelfAttention::load(*this, p + "attention.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
      // Old checkpoints carry the causal-mask buffers (attention.bias / masked_bias): not weights.
      for (const char* buffer : {"attention.bias", "attention.masked_bias", "attention.rotary_emb.inv_freq"})
        weights_->mark_used(p + buffer);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    LmHeadNames head_names;
    head_names.norm = "gpt_neox.final_layer_norm";
    head_names.head = "embed_out";
    embed_out_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_in_.tokens(), "gpt_neox.embed_in.weight",
                              head, head_names);
    finish_loading();
  }

  // Equivalent in modeling_gpt_neox.py: GPTNeoXModel.forward + GPTNeoXLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 12.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);   // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);             // input_layernorm(hidden)
    float* x_mlp = s.residual.resize(N * z.hidden_size);  // post_attention_layernorm(hidden)
    embed_in_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const GPTNeoXLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      if (use_parallel_residual_) {  // hidden = mlp(ln2(hidden)) + attn(ln1(hidden)) + hidden
        L.post_attention_layernorm.forward(hidden, N, x_mlp);
        L.attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      } else {                       // hidden = attn + hidden; hidden = mlp(ln2(hidden)) + hidden
        L.attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
        L.post_attention_layernorm.forward(hidden, N, x_mlp);
      }
      L.mlp.forward(x_mlp, N, s.ws, hidden, /*accumulate=*/true);
    }
    return embed_out_.forward(hidden, B, T, all_positions, s.last, s.logits);  // final_layer_norm + embed_out
  }

 private:
  bool use_parallel_residual_ = true;
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_in_;  // (vocab_size, hidden_size)
  std::vector<GPTNeoXLayer> layers_;
  LmHead embed_out_;    // final_layer_norm + embed_out (vocab_size, hidden_size)
};

}  // namespace

std::unique_ptr<Model> make_gpt_neox(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTNeoXForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
