// Norm block: RMSNorm (LlamaRMSNorm, Gemma's 1 + w) or LayerNorm (with or without weight and
// bias: GPT-2, Cohere, OLMo's non-parametric one), over the last dimension, in float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/weight_source.h"

namespace autolm {

enum class NormKind {
  kRms,    // y = x / sqrt(mean(x²) + eps) * w            (LlamaRMSNorm, T5LayerNorm)
  kLayer,  // y = (x - mean) / sqrt(var + eps) * w + b   (nn.LayerNorm, biased variance)
};

struct NormOptions {
  NormKind kind = NormKind::kRms;
  float eps = 1e-6f;         // rms_norm_eps / layer_norm_eps / layer_norm_epsilon
  bool unit_offset = false;  // Gemma: y = x̂ * (1 + w)
  bool weight = true;        // false: OLMo's LayerNorm(elementwise_affine=False), no tensor
  bool bias = false;         // LayerNorm `.bias` (GPT-2, Phi-2: true; Cohere, OLMo, StableLM-2: per config)
};

class Norm {
 public:
  Norm() = default;
  // Loads `name`.weight (and `name`.bias) of shape (dim), or (groups, dim) when each of
  // `groups` consecutive rows has its own weight (Cohere's per-head q/k LayerNorm).
  static Norm load(WeightSource& w, const std::string& name, int64_t dim, const NormOptions& options, int64_t groups = 1);
  // One module per group, `names[g]`.weight each (dim): StableLM's per-head LayerNorms
  // (q_layernorm.norms.0, .1, …). Row r uses group r % names.size().
  static Norm load_modules(WeightSource& w, const std::vector<std::string>& names, int64_t dim, const NormOptions& options);

  // x: (rows, dim) → y: (rows, dim); y may alias x. With groups, row r uses weight r % groups.
  void forward(const float* x, int64_t rows, float* y) const;

  bool empty() const { return dim_ == 0; }
  int64_t dim() const { return dim_; }

 private:
  NormOptions options_;
  int64_t dim_ = 0, groups_ = 1;
  std::vector<TensorView> weight_;  // (groups) × (dim); empty views without weight
  std::vector<TensorView> bias_;    // (groups) × (dim); empty views without bias
};

}  // namespace autolm
