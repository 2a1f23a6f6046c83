// FalconForCausalLM (transformers' modeling_falcon.py), rotary variants (alibi = false): fused
// query_key_value as multi-query ([q heads, k, v]), per head ([q, k, v] × heads) or, with
// new_decoder_architecture, per kv group ([q × heads/kv, k, v] × num_kv_heads); attention and
// MLP in parallel on one LayerNorm (or ln_attn + ln_mlp), or sequential.
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

struct FalconDecoderLayer {
  Norm ln_attn;                  // input_layernorm, or ln_attn (two-norm layers): (hidden_size)
  Norm ln_mlp;                   // ln_mlp, or post_attention_layernorm (sequential); empty when shared
  SelfAttention self_attention;  // query_key_value ((num_heads + 2*kv_heads)*head_dim, hidden_size), dense
  Mlp mlp;                       // dense_h_to_4h (ffn_hidden_size, hidden_size) → act → dense_4h_to_h
};

class FalconForCausalLM final : public DecoderOnlyModel {
 public:
  FalconForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    if (c.get_or<bool>("alibi", false))
      throw Error(ErrorKind::kUnsupported, c.source() + ": alibi = true (Falcon-RW) is not supported; rotary Falcon models are");
    const bool new_arch = c.get_or<bool>("new_decoder_architecture", false);
    const bool multi_query = c.get_or<bool>("multi_query", true);
    DecoderKeys keys;
    keys.num_key_value_heads = new_arch ? "num_kv_heads" : "num_attention_heads";
    keys.intermediate_size = "ffn_hidden_size";
    read_sizes(c, "transformer.h.", keys, 4 * config_size(c, "hidden_size"));
    // Equivalent in FalconAttention.__init__: one k/v head for the old multi-query layout.
    if (!new_arch && multi_query) sizes_.num_key_value_heads = 1;
    const DecoderSizes& s = sizes_;
    describe_dim(s.q_out() + 2 * s.kv_out(), "(num_attention_heads + 2 × kv heads) × head_dim");
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());
    parallel_attn_ = c.get_or<bool>("parallel_attn", true);
    const int64_t num_ln = config_size_or(c, "num_ln_in_parallel_attn", new_arch ? 2 : 1);
    two_ln_ = new_arch && num_ln == 2;
    // Layouts transformers itself cannot run (FalconDecoderLayer would read a missing norm).
    if ((!new_arch && num_ln == 2 && parallel_attn_) || (new_arch && num_ln != 2 && !parallel_attn_))
      throw Error(ErrorKind::kInvalidInput, c.source() + ": num_ln_in_parallel_attn = " + std::to_string(num_ln) +
                                                " does not go with new_decoder_architecture / parallel_attn here");

    const NormOptions ln{NormKind::kLayer, float(config_epsilon(c, "layer_norm_epsilon", 1e-5)), false, true, true};
    SelfAttentionOptions attn = attention_options();
    attn.scale = float(1.0 / std::sqrt(double(s.head_dim)));  // inv_norm_factor
    attn.layout = new_arch || !multi_query ? QkvLayout::kGrouped : QkvLayout::kFused;  // _split_heads
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("bias", false);
    attn.rope = rotary_emb_.get();
    SelfAttentionNames attn_names;
    attn_names.qkv = "query_key_value";
    attn_names.o = "dense";
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = attn.qkv_bias;
    mlp.act = parse_activation(c.get_or<std::string>("activation", "gelu"), c.source() + ": activation");
    MlpNames mlp_names;
    mlp_names.up = "dense_h_to_4h";
    mlp_names.down = "dense_4h_to_h";

    word_embeddings_ = Embedding::load(*this, "transformer.word_embeddings.weight", config_.vocab_size, s.hidden_size, {});
    h_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "transformer.h." + std::to_string(i) + ".";
      FalconDecoderLayer& L = h_[i];
      L.ln_attn = Norm::load(*this, p + (two_ln_ ? "ln_attn" : "input_layernorm"), s.hidden_size, ln);
      if (two_ln_ || !parallel_attn_)
        L.ln_mlp = Norm::load(*this, p + (two_ln_ ? "ln_mlp" : "post_attention_layernorm"), s.hidden_size, ln);
      L.self_attention = SelfAttention::load(*this, p + "self_attention.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp, mlp_names);
    }
    LmHeadOptions head;
    head.norm = ln;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    LmHeadNames head_names;
    head_names.norm = "transformer.ln_f";
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, word_embeddings_.tokens(),
                            "transformer.word_embeddings.weight", head, head_names);
    finish_loading();
  }

  // Equivalent in modeling_falcon.py: FalconModel.forward + FalconDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 12.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);   // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);             // the attention's LayerNorm output
    float* x_mlp = s.residual.resize(N * z.hidden_size);  // ln_mlp(hidden) of two-norm layers
    word_embeddings_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const FalconDecoderLayer& L = h_[l];
      // The MLP reads ln_mlp(h) (two norms), the attention's norm (parallel) or
      // post_attention_layernorm(h + attn) (sequential); output = mlp + attn + h.
      L.ln_attn.forward(hidden, N, x);
      const float* mlp_in = x;
      if (two_ln_) {
        L.ln_mlp.forward(hidden, N, x_mlp);
        mlp_in = x_mlp;
      }
      L.self_attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      if (!two_ln_ && !parallel_attn_) L.ln_mlp.forward(hidden, N, x);
      L.mlp.forward(mlp_in, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // ln_f + lm_head
  }

 private:
  bool parallel_attn_ = true, two_ln_ = false;
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding word_embeddings_;  // (vocab_size, hidden_size)
  std::vector<FalconDecoderLayer> h_;
  LmHead lm_head_;             // ln_f + lm_head (tied by default)
};

}  // namespace

std::unique_ptr<Model> make_falcon(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<FalconForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
