// MixtralForCausalLM (transformers' modeling_mixtral.py): Mistral's decoder (sliding window on
// every layer) with the MLP replaced by a sparse mixture of experts (block_sparse_moe: softmax
// router, top-k renormalised).
#include <memory>

#include "models/moe_decoder.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct MixtralDecoderLayer {
  Norm input_layernorm;           // RMSNorm (hidden_size)
  SelfAttention self_attn;        // q/k/v/o_proj, rotary, sliding_window
  Norm post_attention_layernorm;  // RMSNorm (hidden_size)
  MoE block_sparse_moe;           // gate (num_local_experts, hidden_size); experts.{e}.w1/w3/w2
};

class MixtralForCausalLM final : public MoeDecoderModel {
 public:
  MixtralForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : MoeDecoderModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());
    MoeOptions moe = read_moe(c, /*local_experts_alias=*/true);
    moe.norm_topk_prob = true;  // MixtralTopKRouter always renormalises

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-5))};
    SelfAttentionOptions attn = attention_options();
    attn.rope = rotary_emb_.get();
    attn.sliding_window = int(config_size_or(c, "sliding_window", 0));  // Mistral's: every layer

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      MixtralDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, rms);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.block_sparse_moe = MoE(moe, MoeNames::mixtral(), p + "block_sparse_moe.", s.hidden_size, s.intermediate_size, 0,
                               vector_lookup(), matrix_lookup());
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_mixtral.py: MixtralModel.forward + MixtralDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<MoeCausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions, 12.0 * z.hidden_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);            // normed hidden states
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const MixtralDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);  // residual +
      L.post_attention_layernorm.forward(hidden, N, x);
      L.block_sparse_moe.forward_accumulate(x, N, hidden, s.moe);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<MixtralDecoderLayer> layers_;
  LmHead lm_head_;          // model.norm (RMSNorm) + lm_head
};

}  // namespace

std::unique_ptr<Model> make_mixtral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<MixtralForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
