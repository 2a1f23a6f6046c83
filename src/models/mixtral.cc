// Mixtral (transformers' modeling_mixtral.py): Mistral's decoder with the MLP replaced by a
// sparse mixture of experts (block_sparse_moe: softmax router, top-k renormalised). Built from
// the nn blocks.
#include <algorithm>
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/moe.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct MoeState : CausalState {
  using CausalState::CausalState;
  MoeScratch moe;
};

struct MixtralDecoderLayer {
  Norm input_layernorm;           // RMSNorm (hidden_size)
  SelfAttention self_attn;        // q/k/v/o_proj, rotary, sliding_window
  Norm post_attention_layernorm;  // RMSNorm (hidden_size)
  MoE block_sparse_moe;           // gate (num_local_experts, hidden_size); experts.{e}.w1/w3/w2
};

class MixtralModel final : public LoadedModel {
 public:
  MixtralModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    SelfAttentionOptions attn;
    attn.hidden_size = H;
    attn.num_heads = int(config_size(c, "num_attention_heads"));
    attn.num_kv_heads = int(config_size_or(c, "num_key_value_heads", attn.num_heads));
    check_divisible(c, "num_attention_heads", attn.num_heads, "num_key_value_heads", attn.num_kv_heads);
    if (!c.has("head_dim")) check_divisible(c, "hidden_size", H, "num_attention_heads", attn.num_heads);
    attn.head_dim = int(config_size_or(c, "head_dim", H / attn.num_heads));
    attn.scale = float(std::pow(attn.head_dim, -0.5));
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    const int64_t I = config_size(c, "intermediate_size");
    const NormOptions norm{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-5)), false, true, false};
    MoeOptions moe;
    // Hub configs spell it num_experts or num_local_experts; transformers maps one onto the
    // other (attribute_map) and saves num_local_experts.
    const std::string experts_key = c.has("num_local_experts") ? "num_local_experts" : "num_experts";
    moe.num_experts = int(config_size(c, experts_key));
    moe.top_k = int(config_size(c, "num_experts_per_tok"));
    if (moe.top_k > moe.num_experts)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": num_experts_per_tok (" + std::to_string(moe.top_k) +
                                                ") exceeds " + experts_key + " (" + std::to_string(moe.num_experts) + ")");
    moe.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "model.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), attn.head_dim, 1.0, max_pos);
    attn.rope = rope_.get();
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(I, "intermediate_size");
    describe_dim(moe.num_experts, experts_key);
    describe_dim(int64_t(attn.num_heads) * attn.head_dim, "num_attention_heads × head_dim");
    describe_dim(int64_t(attn.num_kv_heads) * attn.head_dim, "num_key_value_heads × head_dim");
    hidden_size_ = H;
    num_kv_heads_ = attn.num_kv_heads;
    head_dim_ = attn.head_dim;
    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", V, H, {});
    LmHeadOptions head;
    head.norm = norm;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    lm_head_ = LmHead::load(*this, V, H, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    const WeightLookup vec = [this](const std::string& n, const Shape& s) { return require(n, s); };
    const WeightLookup mat = [this](const std::string& n, const Shape& s) { return require_matrix(n, s); };
    attn.sliding_window = int(config_size_or(c, "sliding_window", 0));  // Mistral's: every layer
    moe.norm_topk_prob = true;  // MixtralTopKRouter always renormalises
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      MixtralDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", H, norm);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", H, norm);
      L.block_sparse_moe = MoE(moe, MoeNames::mixtral(), p + "block_sparse_moe.", H, I, 0, vec, mat);
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<MoeState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<MoeState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_;
    check_scratch(double(N) * 12 * H + double(all_positions ? N : B) * (H + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);            // normed hidden states
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < num_layers_; ++l) {
      const MixtralDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.post_attention_layernorm.forward(hidden, N, x);
      L.block_sparse_moe.forward_accumulate(x, N, hidden, s.moe);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0;
  int num_layers_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
  std::unique_ptr<RotaryEmbedding> rope_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  LmHead lm_head_;          // model.norm (RMSNorm) + lm_head
  std::vector<MixtralDecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_mixtral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<MixtralModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
