// GPTQ's 4-bit tensors (quant_method "gptq") repacked into autolm's int4 layout (core/int4.h) at
// load: integer nibbles and zero points moved, float16 scales widened exactly. An act-order
// checkpoint (desc_act true: g_idx not i / group) gets its input columns sorted by group, the
// permutation kept in Int4Matrix::in_perm for linear() to gather the activations with.
#pragma once

#include <cstdint>
#include <string>

#include "io/quantized.h"

namespace autolm {

// GPTQ tensors of one linear layer, as the safetensors file holds them (dtypes and shapes
// validated by the caller):
//   qweight int32 (in / 8, out), qzeros int32 (in / group, out / 8), scales float16 (in / group, out),
//   g_idx int32 (in) or absent.
// Dequantized by GPTQ's formula (transformers' reference, gptqmodel's TorchQuantLinear):
//   W[o, i] = scales[g, o] · (q[i, o] − (qzeros[g, o] + zero_offset)),  g = g_idx[i] (i / group when absent)
struct GptqTensors {
  const void* qweight;
  const void* qzeros;
  const void* scales;
  const void* g_idx;  // null when absent
  int64_t in_features, out_features;
};

// Repacks into `m` (its out / in / group already set). g_idx is untrusted: every value must lie in
// [0, in / group) and every group hold exactly `group` columns; errors name `g_idx_name`.
void repack_gptq(const GptqTensors& t, int zero_offset, const std::string& g_idx_name, Int4Matrix& m);

}  // namespace autolm
