// LlamaForCausalLM (transformers' modeling_llama.py) and the model types HF generates from it
// with modular files: mistral (sliding window), qwen2 (q/k/v bias, windowed layers), qwen3
// (+ per-head q/k RMSNorm), phi3 (fused qkv_proj / gate_up_proj, partial rotary), smollm3
// (NoPE layers). Their differences are resolved once at load into the blocks' options
// (LlamaVariant); the forward pass is LlamaDecoderLayer's for all of them.
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

// Which layers slide (when config.json has no layer_types).
enum class WindowRule {
  kNone,              // llama: no sliding window
  kAllLayers,         // mistral, phi3: sliding_window on every layer when set
  kMaxWindowLayers,   // qwen2, qwen3: use_sliding_window from layer max_window_layers on
  kNoPELayers,        // smollm3: use_sliding_window on the layers without RoPE
};

// What each modular variant changes in LlamaAttention / LlamaMLP.
struct LlamaVariant {
  const char* model_type;
  bool attention_bias;  // q/k/v/o bias = config.attention_bias (else: none)
  bool mlp_bias;        // gate/up/down bias = config.mlp_bias
  bool qkv_bias;        // qwen2: q/k/v always biased, o_proj never
  bool qk_norm;         // qwen3: q_norm / k_norm (head_dim) before RoPE
  bool fused;           // phi3: qkv_proj, gate_up_proj
  bool nope_layers;     // smollm3: RoPE only where no_rope_layers[i] == 1
  WindowRule window;
  bool tie_word_embeddings;  // the config class's default
};
constexpr LlamaVariant kVariants[] = {
    {"llama", true, true, false, false, false, false, WindowRule::kNone, false},
    {"mistral", false, false, false, false, false, false, WindowRule::kAllLayers, false},
    {"qwen2", false, false, true, false, false, false, WindowRule::kMaxWindowLayers, false},
    {"qwen3", true, false, false, true, false, false, WindowRule::kMaxWindowLayers, false},
    {"phi3", false, false, false, false, true, false, WindowRule::kAllLayers, false},
    {"smollm3", true, true, false, false, false, true, WindowRule::kNoPELayers, true},
};

struct LlamaDecoderLayer {
  Norm input_layernorm;           // (hidden_size)
  SelfAttention self_attn;        // LlamaAttention
  Norm post_attention_layernorm;  // (hidden_size)
  Mlp mlp;                        // LlamaMLP: down(silu(gate(x)) * up(x))
};

class LlamaForCausalLM final : public DecoderOnlyModel {
 public:
  LlamaForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : DecoderOnlyModel(std::move(mc), c, std::move(w)) {
    const LlamaVariant* v = &kVariants[0];
    for (const auto& k : kVariants)
      if (config_.model_type == k.model_type) v = &k;
    read_sizes(c, "model.layers.");
    const DecoderSizes& s = sizes_;
    // smollm3: no_rope_layers[i] == 1 where layer i uses RoPE (default: every
    // no_rope_layer_interval-th layer has none).
    std::vector<int64_t> use_rope(s.num_hidden_layers, 1);
    if (v->nope_layers) {
      const int64_t interval = config_size_or(c, "no_rope_layer_interval", 4);
      for (int i = 0; i < s.num_hidden_layers; ++i) use_rope[i] = (i + 1) % interval != 0;
      if (c.has("no_rope_layers")) use_rope = c.get<std::vector<int64_t>>("no_rope_layers");
      if (int64_t(use_rope.size()) != s.num_hidden_layers)
        throw Error(ErrorKind::kInvalidInput, c.source() + ": no_rope_layers has " + std::to_string(use_rope.size()) +
                                                  " entries for num_hidden_layers " + std::to_string(s.num_hidden_layers));
    }
    // Sliding layers per layer_types, else per the variant's rule; qwen2/qwen3/smollm3 only
    // slide with use_sliding_window.
    const int window = int(config_size_or(c, "sliding_window", 0));
    const bool use_window = v->window == WindowRule::kAllLayers || c.get_or<bool>("use_sliding_window", false);
    const int64_t from = c.get_or<int64_t>("max_window_layers", s.num_hidden_layers);
    std::vector<std::string> fallback(s.num_hidden_layers, "full_attention");
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const bool slides = v->window == WindowRule::kAllLayers        ? window > 0
                          : v->window == WindowRule::kMaxWindowLayers ? use_window && i >= from
                          : v->window == WindowRule::kNoPELayers      ? use_window && window > 0 && !use_rope[i]
                                                                      : false;
      if (slides) fallback[i] = "sliding_attention";
    }
    const auto layer_types = read_layer_types(c, fallback);
    const bool window_active = v->window != WindowRule::kNone && use_window;
    rotary_emb_ = make_rope(c, "full_attention", c.get_or<double>("partial_rotary_factor", 1.0));
    set_computed_positions(c, rotary_emb_.get());

    const NormOptions rms{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6))};
    const bool attention_bias = v->attention_bias && c.get_or<bool>("attention_bias", false);
    SelfAttentionOptions attn = attention_options();
    attn.layout = v->fused ? QkvLayout::kFused : QkvLayout::kSeparate;
    attn.qkv_bias = attention_bias || v->qkv_bias;
    attn.o_bias = attention_bias;
    attn.qk_norm = v->qk_norm ? QkNorm::kPerHead : QkNorm::kNone;
    attn.qk_norm_options = rms;
    MlpOptions mlp;
    mlp.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
    mlp.bias = v->mlp_bias && c.get_or<bool>("mlp_bias", false);

    embed_tokens_ = Embedding::load(*this, "model.embed_tokens.weight", config_.vocab_size, s.hidden_size, {});
    layers_.resize(s.num_hidden_layers);
    for (int i = 0; i < s.num_hidden_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      LlamaDecoderLayer& L = layers_[i];
      attn.sliding_window = layer_types[i] == "sliding_attention" && window_active ? window : 0;
      attn.rope = use_rope[i] ? rotary_emb_.get() : nullptr;  // NoPE layers
      L.input_layernorm = Norm::load(*this, p + "input_layernorm", s.hidden_size, rms);
      L.self_attn = SelfAttention::load(*this, p + "self_attn.", attn);
      L.post_attention_layernorm = Norm::load(*this, p + "post_attention_layernorm", s.hidden_size, rms);
      L.mlp = Mlp::load(*this, p + "mlp.", s.hidden_size, s.intermediate_size, mlp);
    }
    LmHeadOptions head;
    head.norm = rms;
    head.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", v->tie_word_embeddings);
    lm_head_ = LmHead::load(*this, config_.vocab_size, s.hidden_size, embed_tokens_.tokens(), "model.embed_tokens.weight", head);
    finish_loading();
  }

  // Equivalent in modeling_llama.py: LlamaModel.forward + LlamaDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override {
    auto& s = static_cast<CausalState&>(base);
    const DecoderSizes& z = sizes_;
    const int B = s.batch_size();
    const int start = begin_decode(s, ids, attention_mask, T, all_positions,
                                   2.0 * z.hidden_size + 2.0 * (z.q_out() + z.kv_out()) + 2.0 * z.intermediate_size);
    const int64_t N = int64_t(B) * T;
    float* hidden = s.hidden.resize(N * z.hidden_size);  // (batch*seq_len, hidden_size)
    float* x = s.x.resize(N * z.hidden_size);            // normed hidden states
    embed_tokens_.forward(ids, s.positions, hidden);
    for (int l = 0; l < z.num_hidden_layers; ++l) {
      const LlamaDecoderLayer& L = layers_[l];
      L.input_layernorm.forward(hidden, N, x);
      L.self_attn.forward(x, B, T, start, s.positions, s.cache, l, s.ws, hidden, /*accumulate=*/true);  // residual +
      L.post_attention_layernorm.forward(hidden, N, x);
      L.mlp.forward(x, N, s.ws, hidden, /*accumulate=*/true);
    }
    return lm_head_.forward(hidden, B, T, all_positions, s.last, s.logits);  // norm + lm_head
  }

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<LlamaDecoderLayer> layers_;
  LmHead lm_head_;          // model.norm + lm_head (tied: embed_tokens)
};

}  // namespace

std::unique_ptr<Model> make_llama(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<LlamaForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
