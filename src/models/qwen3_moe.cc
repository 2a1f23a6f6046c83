// Qwen3MoeForCausalLM (transformers' modeling_qwen3_moe.py): Qwen3's decoder (q/k RMSNorm per
// head, attention_bias) whose MLP is a sparse mixture of experts without shared expert; the
// layers in mlp_only_layers or off the decoder_sparse_step keep a dense MLP.
#include <memory>

#include "models/moe_decoder.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct Qwen3MoeDecoderLayer {
  Norm input_layernorm;           // RMSNorm (hidden_size)
  SelfAttention self_attn;        // q/k/v/o_proj (attention_bias), q_norm / k_norm (head_dim)
  Norm post_attention_layernorm;  // RMSNorm (hidden_size)
  bool sparse = false;            // mlp is the MoE block, else the dense Qwen3MoeMLP
  MoE moe;                        // gate (num_experts, hidden_size), experts.{e}.gate/up/down_proj
  Mlp mlp;                        // dense: gate/up (intermediate_size, hidden_size), down
};

class Qwen3MoeForCausalLM final : public MoeDecoderModel {
 public:
  Qwen3MoeForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : MoeDecoderModel(std::move(mc), c, std::move(w)) {
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    rotary_emb_ = make_rope(c);
    set_computed_positions(c, rotary_emb_.get());
    MoeOptions moe = read_moe(c, /*local_experts_alias=*/true);
    moe.norm_topk_prob = c.get_or<bool>("norm_topk_prob", false);
    const int64_t moe_intermediate = config_size(c, "moe_intermediate_size");
    describe_dim(moe_intermediate, "moe_intermediate_size");
    const std::vector<bool> sparse = sparse_layers(c, s.num_hidden_layers);

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6))};
    SelfAttentionOptions attn = attention_options();
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", false);
    attn.qk_norm = QkNorm::kPerHead;  // Qwen3MoeRMSNorm(head_dim) on q and k, before RoPE
    attn.qk_norm_options = rms;
    attn.rope = rotary_emb_.get();
    // Qwen3MoeConfig: sliding_window only with use_sliding_window, then on every layer.
    if (c.get_or<bool>("use_sliding_window", false)) attn.sliding_window = int(config_size_or(c, "sliding_window", 0));
    MlpOptions dense;
    dense.act = moe.act;

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Qwen3MoeDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, rms);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.sparse = sparse[i];
      if (L.sparse)
        L.moe = MoE(moe, MoeNames{}, p + "mlp.", s.hidden_size, moe_intermediate, 0, vector_lookup(), matrix_lookup());
      else
        L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, dense);
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_qwen3_moe.py: Qwen3MoeModel.forward + Qwen3MoeDecoderLayer.forward.
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
      const Qwen3MoeDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);  // residual +
      L.post_attention_layernorm.forward(hidden, N, x);
      if (L.sparse) L.moe.forward_accumulate(x, N, hidden, s.moe);
      else L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<Qwen3MoeDecoderLayer> layers_;
  LmHead lm_head_;          // model.norm (RMSNorm) + lm_head
};

}  // namespace

std::unique_ptr<Model> make_qwen3_moe(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Qwen3MoeForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
