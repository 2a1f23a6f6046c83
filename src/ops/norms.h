// Normalisations over the last dimension of a (rows, dim) matrix.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace autolm {

// RMSNorm (LlamaRMSNorm, T5LayerNorm): y = x / sqrt(mean(x²) + eps) * w.
// Gemma's variant multiplies by (1 + w): pass unit_offset = true. An empty w scales by 1.
void rms_norm(const float* x, int64_t rows, int64_t dim, const TensorView& w, float eps, float* y,
              bool unit_offset = false);

// nn.LayerNorm: y = (x - mean) / sqrt(var + eps) * w + b (biased variance). w and b may be
// empty (OLMo's non-parametric LayerNorm).
void layer_norm(const float* x, int64_t rows, int64_t dim, const TensorView& w, const TensorView& b, float eps,
                float* y);

}  // namespace autolm
