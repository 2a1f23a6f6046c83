// AWQ's GEMM packing (quant_method "awq", version / format "gemm", bits 4, zero_point true)
// repacked into autolm's int4 layout (core/int4.h) at load: integer nibbles and zero points
// moved, float16 scales widened exactly, nothing dequantized to float.
#pragma once

#include <cstdint>

#include "io/quantized.h"

namespace autolm {

// AWQ tensors of one linear layer, as the safetensors file holds them (dtypes and shapes
// validated by the caller):
//   qweight int32 (in, out / 8), qzeros int32 (in / group, out / 8), scales float16 (in / group, out).
// Output column o = 8c + j of word c is nibble kAwqSlot[j] (AWQ packs columns in the order
// 0, 2, 4, 6, 1, 3, 5, 7). Dequantized (transformers' reference, AutoAWQ's dequantize_gemm):
//   W[o, i] = scales[g, o] · (q[i, o] − z[g, o]),  g = i / group
struct AwqTensors {
  const void* qweight;
  const void* qzeros;
  const void* scales;
  int64_t in_features, out_features;
};

// The nibble (0..7) of packed word c that holds output column 8c + j.
inline constexpr int kAwqSlot[8] = {0, 4, 1, 5, 2, 6, 3, 7};

// Repacks into `m` (its out / in / group already set).
void repack_awq(const AwqTensors& t, Int4Matrix& m);

}  // namespace autolm
