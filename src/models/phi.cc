// Phi-1/1.5/2 (transformers' modeling_phi.py): one LayerNorm feeds attention and MLP in parallel
// (hidden = attn + mlp + residual), partial rotary embeddings, biases everywhere (lm_head too),
// optional LayerNorm on q and k per head (qk_layernorm). Built from the nn blocks.
#include <cmath>
#include <memory>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/self_attention.h"

namespace autolm {

namespace {

struct PhiDecoderLayer {
  Norm input_layernorm;     // LayerNorm (hidden_size), weight + bias
  SelfAttention self_attn;  // q/k/v_proj + dense, all with bias; partial rotary
  Mlp mlp;                  // fc1 (intermediate_size, hidden_size) → act → fc2
};

class PhiModel final : public LoadedModel {
 public:
  PhiModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w) : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    SelfAttentionOptions attn;
    attn.hidden_size = H;
    attn.num_heads = int(config_size(c, "num_attention_heads"));
    attn.num_kv_heads = int(config_size_or(c, "num_key_value_heads", attn.num_heads));
    check_divisible(c, "num_attention_heads", attn.num_heads, "num_key_value_heads", attn.num_kv_heads);
    check_divisible(c, "hidden_size", H, "num_attention_heads", attn.num_heads);
    attn.head_dim = int(H / attn.num_heads);
    attn.scale = float(std::pow(attn.head_dim, -0.5));
    attn.qkv_bias = attn.o_bias = true;
    const NormOptions norm{NormKind::kLayer, float(config_epsilon(c, "layer_norm_eps", 1e-5)), false, true, true};
    if (c.get_or<bool>("qk_layernorm", false)) {  // nn.LayerNorm(head_dim) on q and on k
      attn.qk_norm = QkNorm::kPerHead;
      attn.qk_norm_options = norm;
    }
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    const int64_t I = config_size(c, "intermediate_size");
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "gelu_new"), c.source() + ": hidden_act");
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "model.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    // partial_rotary_factor: top level in Hub configs, inside rope_parameters once transformers 5 saved it.
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), attn.head_dim,
                                              c.get_or<double>("partial_rotary_factor", 0.5), max_pos);
    attn.rope = rope_.get();
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(I, "intermediate_size");
    describe_dim(int64_t(attn.num_kv_heads) * attn.head_dim, "num_key_value_heads × head_dim");
    hidden_size_ = H;
    num_kv_heads_ = attn.num_kv_heads;
    head_dim_ = attn.head_dim;
    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", V, H, {});
    LmHeadOptions head;
    head.norm = norm;
    head.bias = true;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    LmHeadNames head_names;
    head_names.norm = "model.final_layernorm";
    lm_head_ = LmHead::load(*this, V, H, embed_tokens_.tokens(), "model.embed_tokens.weight", head, head_names);
    SelfAttentionNames attn_names;
    attn_names.o = "dense";
    attn_names.q_norm = "q_layernorm";
    attn_names.k_norm = "k_layernorm";
    MlpNames mlp_names;
    mlp_names.up = "fc1";
    mlp_names.down = "fc2";
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      PhiDecoderLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", H, norm);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", H, I, mlp, mlp_names);
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(num_layers_, batch, num_kv_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_kv_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_;
    check_scratch(double(N) * 10 * H + double(all_positions ? N : B) * (H + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);            // input_layernorm(hidden), shared by attention and MLP
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < num_layers_; ++l) {
      const PhiDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      // hidden = self_attn(x) + mlp(x) + hidden
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0;
  int num_layers_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
  std::unique_ptr<RotaryEmbedding> rope_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  LmHead lm_head_;          // final_layernorm + lm_head with bias
  std::vector<PhiDecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_phi(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<PhiModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
