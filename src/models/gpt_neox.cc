// GPT-NeoX / Pythia (transformers' modeling_gpt_neox.py): fused query_key_value laid out per
// head ([q, k, v] of head 0, then head 1, …), partial rotary (rotary_pct), LayerNorms with bias,
// parallel residual (hidden = attn(ln1(h)) + mlp(ln2(h)) + h) or sequential, untied embed_out.
// Built from the nn blocks (the per-head layout is QkvLayout::kGrouped with one q head per group).
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

struct GPTNeoXLayer {
  Norm input_layernorm;           // LayerNorm (hidden_size), weight + bias
  Norm post_attention_layernorm;  // LayerNorm (hidden_size)
  SelfAttention attention;        // query_key_value (3*hidden_size, hidden_size) per head [q, k, v]; dense
  Mlp mlp;                        // dense_h_to_4h (intermediate_size, hidden_size) → act → dense_4h_to_h
};

class GPTNeoXModel final : public LoadedModel {
 public:
  GPTNeoXModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    SelfAttentionOptions attn;
    attn.hidden_size = H;
    attn.num_heads = attn.num_kv_heads = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", attn.num_heads);
    attn.head_dim = int(H / attn.num_heads);
    attn.scale = float(std::pow(attn.head_dim, -0.5));
    attn.layout = QkvLayout::kGrouped;  // view(..., num_heads, 3*head_size).chunk(3): one q per group
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("attention_bias", true);
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    const int64_t I = config_size(c, "intermediate_size");
    const NormOptions norm{NormKind::kLayer, float(config_epsilon(c, "layer_norm_eps", 1e-5)), false, true, true};
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = true;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "gelu"), c.source() + ": hidden_act");
    parallel_residual_ = c.get_or<bool>("use_parallel_residual", true);
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "gpt_neox.layers.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    // Hub configs: rotary_pct / rotary_emb_base; transformers 5 saves them in rope_parameters.
    nlohmann::json params = rope_parameters_for(c).raw();
    if (!c.has("rope_parameters") && c.has("rotary_emb_base")) params["rope_theta"] = c.raw()["rotary_emb_base"];
    rope_ = std::make_unique<RotaryEmbedding>(JsonConfig(params, c.source()), attn.head_dim,
                                              c.get_or<double>("rotary_pct", 0.25), max_pos);
    attn.rope = rope_.get();
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(3 * H, "3 × hidden_size (" + std::to_string(H) + ")");
    describe_dim(I, "intermediate_size");
    hidden_size_ = H;
    num_heads_ = attn.num_heads;
    head_dim_ = attn.head_dim;
    embed_in_ = Embedding::load(*this, "gpt_neox.embed_in.weight", V, H, {});
    LmHeadOptions head;
    head.norm = norm;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", false);
    LmHeadNames head_names;
    head_names.norm = "gpt_neox.final_layer_norm";
    head_names.head = "embed_out";
    embed_out_ = LmHead::load(*this, V, H, embed_in_.tokens(), "gpt_neox.embed_in.weight", head, head_names);
    SelfAttentionNames attn_names;
    attn_names.qkv = "query_key_value";
    attn_names.o = "dense";
    MlpNames mlp_names;
    mlp_names.up = "dense_h_to_4h";
    mlp_names.down = "dense_4h_to_h";
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "gpt_neox.layers." + std::to_string(i) + ".";
      GPTNeoXLayer& L = layers_[i];
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", H, norm);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", H, norm);
      L.attention = SelfAttention::load(*this, p + "attention.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", H, I, mlp, mlp_names);
      // Old checkpoints carry the causal-mask buffers (attention.bias / masked_bias): not weights.
      weights_->mark_used(p + "attention.bias");
      weights_->mark_used(p + "attention.masked_bias");
      weights_->mark_used(p + "attention.rotary_emb.inv_freq");
    }
    finish_loading();
  }

  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override {
    check_state_length(positions_, max_length);
    return std::make_unique<CausalState>(num_layers_, batch, num_heads_, max_length, head_dim_);
  }
  int64_t kv_bytes_per_token() const override { return 2 * int64_t(num_layers_) * num_heads_ * head_dim_ * 4; }

  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const int B = s.batch_size();
    const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
    const int64_t N = int64_t(B) * T, H = hidden_size_;
    check_scratch(double(N) * 12 * H + double(all_positions ? N : B) * (H + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * H);   // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);             // input_layernorm(hidden)
    float* x_mlp = s.residual.resize(N * H);  // post_attention_layernorm(hidden)
    embed_in_.forward(ids, s.positions, hidden);
    for (int l = 0; l < num_layers_; ++l) {
      const GPTNeoXLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      if (parallel_residual_) {  // hidden = mlp(ln2(hidden)) + attn(ln1(hidden)) + hidden
        L.post_attention_layernorm.forward(hidden, N, x_mlp);
        L.attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      } else {                   // hidden = attn + hidden; hidden = mlp(ln2(hidden)) + hidden
        L.attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
        L.post_attention_layernorm.forward(hidden, N, x_mlp);
      }
      L.mlp.forward(x_mlp, N, s.ws, hidden, /*accumulate=*/true);
    }
    return embed_out_.forward(hidden, B, T, all_positions, s.last, s.logits);
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0;
  int num_heads_ = 0, head_dim_ = 0, num_layers_ = 0;
  bool parallel_residual_ = true;
  std::unique_ptr<RotaryEmbedding> rope_;
  Embedding embed_in_;  // (vocab_size, hidden_size)
  LmHead embed_out_;    // final_layer_norm + embed_out (vocab_size, hidden_size)
  std::vector<GPTNeoXLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_gpt_neox(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<GPTNeoXModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
