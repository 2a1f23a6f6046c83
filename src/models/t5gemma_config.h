// T5GemmaConfig (transformers' configuration_t5gemma.py) resolved into the blocks' options: one
// T5GemmaModuleConfig each for the encoder and the decoder ("encoder" / "decoder" sub-configs of
// config.json, which may differ in size), validated with errors naming file and key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/self_attention.h"

namespace autolm {

struct T5GemmaModuleConfig {
  int64_t hidden_size = 0, intermediate_size = 0, max_position_embeddings = 0;
  int num_heads = 0, num_kv_heads = 0, head_dim = 0, num_layers = 0;
  std::vector<bool> sliding;  // per layer: layer_types[i] == "sliding_attention"
  SelfAttentionOptions attn;  // sizes, query_pre_attn_scalar**-0.5, attn_logit_softcapping, sliding_window
  NormOptions norm;           // T5GemmaRMSNorm: x̂ * (1 + w), rms_norm_eps
  MlpOptions mlp;             // gated, hidden_activation
  std::unique_ptr<RotaryEmbedding> rope;
  float final_logit_softcapping = 0.f;

  // The options of layer i's self-attention: bidirectional (encoder) or causal, windowed if sliding.
  SelfAttentionOptions self_attention(int layer, bool causal) const;
};

struct T5GemmaConfig {
  T5GemmaModuleConfig encoder, decoder;
  bool tie_word_embeddings = true;
};

class WeightStore;

// config.json (`c`) → the two modules; refuses a missing sub-config, a bad value or more layers
// than `weights` hold (model.encoder.layers.*, model.decoder.layers.*), naming the key.
T5GemmaConfig read_t5gemma_config(const JsonConfig& c, const WeightStore& weights);

}  // namespace autolm
