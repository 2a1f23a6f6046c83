// Attention over a fixed source (BartAttention / T5Attention with key_value_states): queries
// from the decoder, keys and values projected once per encoder input by project_kv() into a
// CrossKV slot of the request's state and reused at every decoding step. Decoder rows are
// grouped by input (beams of one input share its slot): row b reads input b / (batch /
// num_inputs). No positions, no causal mask: the source's padding mask only.
//
// The same block is the encoder's self-attention (BartAttention with is_causal=False):
// project_kv(x) then forward(x) over the same rows.
//
// Use (one decoder layer, prefix "model.decoder.layers.0.encoder_attn."):
//   CrossAttentionOptions o{.hidden_size = d_model, .num_heads = heads, .head_dim = d_model / heads,
//                           .kv_input_size = d_model, .bias = true, .scale = 1 / sqrt(head_dim)};
//   CrossAttention a = CrossAttention::load(weights, prefix, o);   // T5: names {"q","k","v","o"}, bias false, scale 1
//   a.project_kv(encoder_hidden, num_inputs, src_len, ws, state.cross[layer]);   // in encode()
//   a.forward(x, batch, seq_len, state.cross[layer], state.src_valid, ws, hidden, /*accumulate=*/true);  // each step
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/weight_source.h"
#include "nn/workspace.h"

namespace autolm {

struct CrossAttentionOptions {
  int64_t hidden_size = 0;    // query side and output (decoder d_model)
  int num_heads = 0, head_dim = 0;
  int64_t kv_input_size = 0;  // width of the source rows K/V are projected from (0: hidden_size)
  bool bias = true;           // q/k/v/out biases (BART family: true; T5: false)
  float scale = 1.f;          // multiplies q·k: head_dim^-0.5 (BART family), 1 (T5)
  int num_kv_heads = 0;       // GQA (T5Gemma): K/V heads, query head h reads h / (num_heads / num_kv_heads) (0: num_heads)
  float softcap = 0.f;        // > 0: scores = tanh(scores / softcap) * softcap (T5Gemma attn_logit_softcapping)
  // > 0, the encoder's self-attention (queries are the source rows): query i sees key j only if
  // |i - j| <= sliding_window (a two-sided local window; LED's, with global tokens, is LongformerSelfAttention).
  int sliding_window = 0;
};

// HF module names under the attention prefix (BART: q_proj … out_proj; T5: q, k, v, o).
struct CrossAttentionNames {
  std::string q = "q_proj", k = "k_proj", v = "v_proj", o = "out_proj";
};

// One layer's keys and values of the encoder output, in the layout attention() reads.
struct CrossKV {
  std::vector<float> k, v;  // (num_inputs, num_kv_heads, src_len, head_dim)
  int num_inputs = 0, src_len = 0;
};

class CrossAttention {
 public:
  CrossAttention() = default;
  static CrossAttention load(WeightSource& w, const std::string& prefix, const CrossAttentionOptions& options,
                             const CrossAttentionNames& names = {});

  // source: (num_inputs*src_len, kv_input_size) → kv = k_proj(source), v_proj(source) per head.
  void project_kv(const float* source, int num_inputs, int src_len, Workspace& ws, CrossKV& kv) const;

  // x: (batch*q_len, hidden_size) queries; src_valid: (num_inputs, src_len) 1 = real source
  // token; batch a multiple of kv.num_inputs. out: (batch*q_len, hidden_size) =
  // out_proj(attention); accumulate: out += (the residual). out may not alias x.
  void forward(const float* x, int batch, int q_len, const CrossKV& kv, std::span<const uint8_t> src_valid, Workspace& ws,
               float* out, bool accumulate) const;

  const CrossAttentionOptions& options() const { return options_; }

 private:
  CrossAttentionOptions options_;
  TensorView q_proj;          // (num_heads*head_dim, hidden_size)
  TensorView k_proj, v_proj;  // (num_kv_heads*head_dim, kv_input_size)
  TensorView o_proj;          // (hidden_size, num_heads*head_dim)
  TensorView q_bias, k_bias, v_bias;  // (num_heads*head_dim), k/v (num_kv_heads*head_dim), or empty
  TensorView o_bias;                  // (hidden_size) or empty
};

}  // namespace autolm
