// Rotary position embeddings (transformers' modeling_rope_utils.py): default, linear, dynamic
// (NTK), llama3, yarn and longrope (Phi-3.5 / Phi-4) inverse frequencies, applied with
// rotate_half over the first rotary_dim features of each head.
#pragma once

#include <string>
#include <vector>

#include "io/json_file.h"

namespace autolm {

class RotaryEmbedding {
 public:
  // `params` is one rope_parameters object (rope_type, rope_theta, factor, …), already resolved
  // from either config spelling (see rope_parameters_for). head_dim × partial_rotary_factor =
  // rotary_dim, which must be even and ≤ head_dim. Every parameter is validated (Error naming
  // the key and its value). max_position_embeddings: config value (for dynamic/yarn defaults).
  // config_original_max: config.json's top-level original_max_position_embeddings (Phi-3
  // keeps it there), 0 when absent.
  RotaryEmbedding(const JsonConfig& params, int head_dim, double partial_rotary_factor,
                  int64_t max_position_embeddings, int64_t config_original_max = 0);

  int rotary_dim() const { return rotary_dim_; }
  // Cohere (GPT-J style): rotate the pairs (2i, 2i+1) instead of the halves (i, i + rotary_dim/2).
  void set_interleaved(bool interleaved) { interleaved_ = interleaved; }
  // Longest sequence the configuration declares: max_position_embeddings, extended by the
  // scaling factor for the rope types whose factor stretches the context.
  int64_t context_length(int64_t max_position_embeddings) const;

  // Rotates x: (num_heads, head_dim) in place for one token at `position`. `seq_len` is the
  // largest position + 1 of the current forward call (only "dynamic" uses it, as HF does).
  void apply(float* x, int num_heads, int head_dim, int64_t position, int64_t seq_len) const;

 private:
  std::vector<float> inv_freq_;      // (rotary_dim / 2)
  std::vector<float> long_inv_freq_;  // longrope: used once a call reaches original_max_positions_
  float attention_scaling_ = 1.f;    // yarn's mscale applied to cos and sin
  int rotary_dim_;
  bool interleaved_ = false;
  std::string rope_type_;
  double theta_ = 10000.0, factor_ = 1.0;
  int64_t original_max_positions_ = 0;
};

// Resolves the rope parameters of one layer type from config.json in either spelling:
// transformers-5 `rope_parameters` (flat, or keyed by layer type as in Gemma 3) or the older
// `rope_theta` + `rope_scaling` (+ Gemma 3's `rope_local_base_freq` for sliding layers).
JsonConfig rope_parameters_for(const JsonConfig& config, const std::string& layer_type = "full_attention");

}  // namespace autolm
