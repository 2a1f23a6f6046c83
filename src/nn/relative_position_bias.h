// Relative position bias block (T5Attention.compute_bias, shared by T5, mT5, UMT5, Switch
// Transformers and LongT5): a learned (num_buckets, num_heads) table indexed by the bucket of
// key_pos - query_pos, added to the attention scores. Buckets: half exact distances, half
// log-spaced up to max_distance; bidirectional (encoder) splits them between the two directions.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "nn/weight_source.h"

namespace autolm {

struct RelativePositionBiasOptions {
  int num_heads = 0;
  int num_buckets = 32;     // relative_attention_num_buckets
  int max_distance = 128;   // relative_attention_max_distance
  bool bidirectional = true;  // encoder: true; decoder self-attention: false
};

// Equivalent in modeling_t5.py: T5Attention._relative_position_bucket (float32 log, truncation).
int relative_position_bucket(int relative_position, bool bidirectional, int num_buckets, int max_distance);

class RelativePositionBias {
 public:
  RelativePositionBias() = default;
  // Loads `name` ("….relative_attention_bias.weight"), shape (num_buckets, num_heads), or
  // leaves the block empty when optional and the file lacks it (T5: only layer 0 has one).
  static RelativePositionBias load(WeightSource& w, const std::string& name, const RelativePositionBiasOptions& options,
                                   bool optional);

  // table: (num_heads, 2*R + 1), table[h][R + rel] = bias of head h at rel = key - query for
  // rel in [-R, R] — the layout AttentionSpec::rel_bias reads (stride 2R+1, offset R).
  void fill(int R, float* table) const;

  bool empty() const { return weight_.empty(); }
  const RelativePositionBiasOptions& options() const { return options_; }

 private:
  RelativePositionBiasOptions options_;
  TensorView weight_;  // (num_buckets, num_heads)
};

}  // namespace autolm
