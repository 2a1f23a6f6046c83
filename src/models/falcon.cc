// Falcon (transformers' modeling_falcon.py), rotary variants (alibi = false): fused
// query_key_value as multi-query ([q heads, k, v]), per head ([q, k, v] × heads) or, with
// new_decoder_architecture, per kv group ([q × heads/kv, k, v] × num_kv_heads); attention and
// MLP in parallel on one LayerNorm (or ln_attn + ln_mlp), or sequential. Built from the nn blocks.
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

struct FalconDecoderLayer {
  Norm ln_attn;                  // input_layernorm, or ln_attn (two-norm layers): (hidden_size)
  Norm ln_mlp;                   // ln_mlp, or post_attention_layernorm (sequential); empty when shared
  SelfAttention self_attention;  // query_key_value ((num_heads + 2*kv_heads)*head_dim, hidden_size), dense
  Mlp mlp;                       // dense_h_to_4h (ffn_hidden_size, hidden_size) → act → dense_4h_to_h
};

class FalconModel final : public LoadedModel {
 public:
  FalconModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LoadedModel(std::move(mc), std::move(w)) {
    set_config_source(c.source());
    if (c.get_or<bool>("alibi", false))
      throw Error(ErrorKind::kUnsupported, c.source() + ": alibi = true (Falcon-RW) is not supported; rotary Falcon models are");
    const int64_t H = config_size(c, "hidden_size"), V = config_.vocab_size;
    SelfAttentionOptions attn;
    attn.hidden_size = H;
    attn.num_heads = int(config_size(c, "num_attention_heads"));
    check_divisible(c, "hidden_size", H, "num_attention_heads", attn.num_heads);
    attn.head_dim = int(H / attn.num_heads);
    attn.scale = float(1.0 / std::sqrt(double(attn.head_dim)));
    const bool new_arch = c.get_or<bool>("new_decoder_architecture", false);
    const bool multi_query = c.get_or<bool>("multi_query", true);
    parallel_ = c.get_or<bool>("parallel_attn", true);
    // Equivalent in FalconAttention.__init__ / _split_heads: the kv heads and layout of each variant.
    if (new_arch) {
      attn.num_kv_heads = int(config_size_or(c, "num_kv_heads", attn.num_heads));
      check_divisible(c, "num_attention_heads", attn.num_heads, "num_kv_heads", attn.num_kv_heads);
      attn.layout = QkvLayout::kGrouped;
    } else if (multi_query) {
      attn.num_kv_heads = 1;
      attn.layout = QkvLayout::kFused;
    } else {
      attn.num_kv_heads = attn.num_heads;
      attn.layout = QkvLayout::kGrouped;
    }
    attn.qkv_bias = attn.o_bias = c.get_or<bool>("bias", false);
    const int64_t num_ln = config_size_or(c, "num_ln_in_parallel_attn", new_arch ? 2 : 1);
    two_ln_ = new_arch && num_ln == 2;
    // Layouts transformers itself cannot run (FalconDecoderLayer would read a missing norm).
    if ((!new_arch && num_ln == 2 && parallel_) || (new_arch && num_ln != 2 && !parallel_))
      throw Error(ErrorKind::kInvalidInput, c.source() + ": num_ln_in_parallel_attn = " + std::to_string(num_ln) +
                                                " does not go with new_decoder_architecture / parallel_attn here");
    const int64_t F = config_size_or(c, "ffn_hidden_size", 4 * H);
    const NormOptions norm{NormKind::kLayer, float(config_epsilon(c, "layer_norm_epsilon", 1e-5)), false, true, true};
    MlpOptions mlp;
    mlp.gated = false;
    mlp.bias = attn.qkv_bias;
    mlp.act = parse_activation(c.get_or<std::string>("activation", "gelu"), c.source() + ": activation");
    num_layers_ = int(config_size(c, "num_hidden_layers"));
    check_layer_count(c, "num_hidden_layers", num_layers_, *weights_, "transformer.h.");
    const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
    rope_ = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), attn.head_dim, 1.0, max_pos);
    attn.rope = rope_.get();
    positions_ = computed_position_limit(rope_->context_length(max_pos),
                                         c.source() + ": max_position_embeddings = " + std::to_string(max_pos));
    config_.max_positions = positions_.max;
    describe_dim(V, "vocab_size");
    describe_dim(H, "hidden_size");
    describe_dim(F, "ffn_hidden_size");
    describe_dim(int64_t(attn.num_heads + 2 * attn.num_kv_heads) * attn.head_dim,
                 "(num_attention_heads + 2 × kv heads) × head_dim");
    hidden_size_ = H;
    num_kv_heads_ = attn.num_kv_heads;
    head_dim_ = attn.head_dim;
    word_embeddings_ = Embedding::load(*this, "transformer.word_embeddings.weight", V, H, {});
    LmHeadOptions head;
    head.norm = norm;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
    LmHeadNames head_names;
    head_names.norm = "transformer.ln_f";
    lm_head_ = LmHead::load(*this, V, H, word_embeddings_.tokens(), "transformer.word_embeddings.weight", head, head_names);
    SelfAttentionNames attn_names;
    attn_names.qkv = "query_key_value";
    attn_names.o = "dense";
    MlpNames mlp_names;
    mlp_names.up = "dense_h_to_4h";
    mlp_names.down = "dense_4h_to_h";
    layers_.resize(num_layers_);
    for (int i = 0; i < num_layers_; ++i) {
      const std::string p = "transformer.h." + std::to_string(i) + ".";
      FalconDecoderLayer& L = layers_[i];
      L.ln_attn = Norm::load(*this, p + (two_ln_ ? "ln_attn" : "input_layernorm"), H, norm);
      if (two_ln_ || !parallel_) L.ln_mlp = Norm::load(*this, p + (two_ln_ ? "ln_mlp" : "post_attention_layernorm"), H, norm);
      L.self_attention = SelfAttention::load(*this, p + "self_attention.", attn, attn_names);
      L.mlp = Mlp::load(*this, p + "mlp.", H, F, mlp, mlp_names);
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
    check_scratch(double(N) * 12 * H + double(all_positions ? N : B) * (H + config_.vocab_size), N);
    float* hidden = s.hidden.resize(N * H);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * H);            // the attention's LayerNorm output
    float* x_mlp = s.residual.resize(N * H);  // ln_mlp(hidden) of two-norm layers
    word_embeddings_.forward(ids, s.positions, hidden);
    for (int l = 0; l < num_layers_; ++l) {
      const FalconDecoderLayer& L = layers_[l];
      // FalconDecoderLayer.forward: the MLP reads ln_mlp(h) (two norms), the attention's norm
      // (parallel) or post_attention_layernorm(h + attn) (sequential); output = mlp + attn + h.
      L.ln_attn.forward(hidden, N, x);
      const float* mlp_in = x;
      if (two_ln_) {
        L.ln_mlp.forward(hidden, N, x_mlp);
        mlp_in = x_mlp;
      }
      L.self_attention.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);
      if (!two_ln_ && !parallel_) L.ln_mlp.forward(hidden, N, x);
      L.mlp.forward(mlp_in, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);
  }

 private:
  PositionLimit positions_;
  int64_t hidden_size_ = 0;
  int num_layers_ = 0, num_kv_heads_ = 0, head_dim_ = 0;
  bool parallel_ = true, two_ln_ = false;
  std::unique_ptr<RotaryEmbedding> rope_;
  Embedding word_embeddings_;  // (vocab_size, hidden_size)
  LmHead lm_head_;             // ln_f + lm_head (tied by default)
  std::vector<FalconDecoderLayer> layers_;
};

}  // namespace

std::unique_ptr<Model> make_falcon(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<FalconModel>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
