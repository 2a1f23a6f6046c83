// compressed-tensors "pack-quantized" int4 (quant_method "compressed-tensors", llm-compressor's
// W4A16 checkpoints) repacked into autolm's int4 layout (core/int4.h) at load: integer nibbles and
// zero points moved, scales widened exactly, nothing dequantized to float.
#pragma once

#include <cstdint>
#include <string>

#include "io/quantized.h"

namespace autolm {

// compressed-tensors tensors of one linear layer (dtypes and shapes validated by the caller):
//   weight_packed      int32 (out, in / 8): weight [o, i] + 8 in nibble i % 8 of word [o, i / 8]
//   weight_scale       float16 / bfloat16 / float32 (out, in / group)
//   weight_zero_point  int32 (ceil(out / 8), in / group), asymmetric only: zero point [o, g] + 8 in
//                      nibble o % 8 of word [o / 8, g] (packed along the output dimension)
//   weight_g_idx       int32 (in), actorder "group" only: the group of input feature i
// Dequantized (compressed-tensors' unpack_from_int32 + dequantize):
//   W[o, i] = scale[o, g] · (w[o, i] − zp[o, g]),  w, zp ∈ [−8, 7] (zp = 0 when symmetric),  g = g_idx[i] or i / group
// so in the int4 layout q = w + 8 (the stored nibble) and z = zp + 8.
struct CompressedTensors {
  const void* packed;
  const void* scale;
  DType scale_dtype;         // kF16, kBF16 or kF32
  const void* zero_point;    // null when symmetric
  const void* g_idx;         // null when absent
  int64_t in_features, out_features;
};

// Repacks into `m` (its out / in / group already set); errors about g_idx name `g_idx_name`.
void repack_compressed_tensors(const CompressedTensors& t, const std::string& g_idx_name, Int4Matrix& m);

}  // namespace autolm
