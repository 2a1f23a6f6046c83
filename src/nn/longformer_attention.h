// LED's encoder self-attention (transformers' modeling_led.py: LEDEncoderAttention around
// LEDEncoderSelfAttention, Longformer's attention): every token attends to the tokens within
// one_sided_window positions either side (its sliding window) and to every global token; a
// global token (global_attention_mask 1) attends to every token, through its own projections
// query_global / key_global / value_global. Padding is never attended to.
//
// Use (one encoder layer, prefix "led.encoder.layers.0.self_attn."):
//   LongformerAttentionOptions o{.hidden_size = d_model, .num_heads = heads, .head_dim = d_model / heads,
//                                .one_sided_window = attention_window[layer] / 2};
//   LongformerSelfAttention a = LongformerSelfAttention::load(weights, prefix, o);
//   a.forward(x, inputs, src_len, state.src_valid, global, ws, hidden, /*accumulate=*/true);
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "nn/weight_source.h"
#include "nn/workspace.h"

namespace autolm {

struct LongformerAttentionOptions {
  int64_t hidden_size = 0;  // d_model = num_heads * head_dim
  int num_heads = 0, head_dim = 0;
  int one_sided_window = 0;  // attention_window[layer] / 2 (> 0)
};

class LongformerSelfAttention {
 public:
  LongformerSelfAttention() = default;
  // Weights under `prefix`: longformer_self_attn.{query,key,value,query_global,key_global,
  // value_global}.{weight,bias} and output.{weight,bias}.
  static LongformerSelfAttention load(WeightSource& w, const std::string& prefix, const LongformerAttentionOptions& o);

  bool empty() const { return options_.num_heads == 0; }

  // x: (inputs*src_len, hidden_size); valid: (inputs*src_len) 1 = real token; global:
  // (inputs*src_len) 1 = global attention (only on real tokens), or empty (none). out:
  // (inputs*src_len, hidden_size) = output(attention); accumulate: out += (the residual). out
  // may not alias x. Rows of padding get output's bias alone (their attention is zero).
  void forward(const float* x, int inputs, int src_len, std::span<const uint8_t> valid, std::span<const uint8_t> global,
               Workspace& ws, float* out, bool accumulate) const;

 private:
  LongformerAttentionOptions options_;
  TensorView query, key, value;                       // (hidden, hidden) local projections
  TensorView query_global, key_global, value_global;  // (hidden, hidden) the global tokens' projections
  TensorView output;                                  // (hidden, hidden) LEDEncoderAttention.output
  TensorView query_b, key_b, value_b, query_global_b, key_global_b, value_global_b, output_b;  // (hidden)
};

}  // namespace autolm
