// LlamaModel and LlamaDecoderLayer (transformers' modeling_llama.py), which HF's modular files
// reuse unchanged for Mistral, Qwen2, Qwen3, Phi-3 and SmolLM3 (`class Qwen3DecoderLayer(
// LlamaDecoderLayer)`, …): each of those architecture files (mistral.cc, qwen2.cc, qwen3.cc,
// phi3.cc, smollm3.cc) resolves its config.json into LlamaOptions and inherits the forward pass.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/decoder_only.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/mlp.h"
#include "nn/self_attention.h"

namespace autolm {

struct LlamaDecoderLayer {
  Norm input_layernorm;           // (hidden_size)
  SelfAttention self_attn;        // LlamaAttention
  Norm post_attention_layernorm;  // (hidden_size)
  Mlp mlp;                        // LlamaMLP: down(act(gate(x)) * up(x))
};

// What an architecture built on Llama decides from its config.json.
struct LlamaOptions {
  NormOptions rms;                   // every RMSNorm (q/k norms included)
  SelfAttentionOptions attn;         // sizes, biases, layout, q/k norm; rope and window are per layer
  MlpOptions mlp;                    // activation, bias
  std::vector<int> sliding_window;   // per layer: the window, 0 for full attention
  std::vector<bool> rope;            // per layer: false for a layer without positions (NoPE)
  bool tie_word_embeddings = false;  // the config class's default (config.json overrides it)
};

class LlamaModel : public DecoderOnlyModel {
 public:
  // Equivalent in modeling_llama.py: LlamaModel.forward + LlamaDecoderLayer.forward.
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int T,
                                DecodeState& base, bool all_positions) const override;

 protected:
  // Reads the sizes (model.layers.), the RoPE (partial_rotary_factor when set) and the position limit.
  LlamaModel(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w);

  // LlamaConfig's defaults: rms_norm_eps 1e-6 (`default_eps`), hidden_act silu, no bias, RoPE on
  // every layer, no sliding window, untied.
  LlamaOptions default_options(const JsonConfig& c, double default_eps = 1e-6) const;
  // Per-layer windows: sliding_window on the layers layer_types (else `fallback`) marks
  // "sliding_attention" when `active`, 0 elsewhere.
  std::vector<int> sliding_windows(const JsonConfig& c, bool active, std::vector<std::string> fallback) const;
  // Loads embed_tokens, the layers and norm + lm_head with `o`; ends loading.
  void load(const JsonConfig& c, const LlamaOptions& o);

 private:
  std::unique_ptr<RotaryEmbedding> rotary_emb_;
  Embedding embed_tokens_;  // (vocab_size, hidden_size)
  std::vector<LlamaDecoderLayer> layers_;
  LmHead lm_head_;  // model.norm + lm_head (tied: embed_tokens)
};

}  // namespace autolm
