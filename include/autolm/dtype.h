// How from_pretrained holds a model's weight matrices in memory (LoadOptions::dtype; HF's
// torch_dtype, for a CPU engine). Strings from a command line, a request or Python are parsed
// once, at that edge, with parse_dtype().
#pragma once

#include <string_view>

#include "autolm/export.h"

namespace autolm {

enum class Dtype {
  kAuto,     // "auto": float32 checkpoints stay float32, bfloat16 / float16 ones are used in place
             // (2 bytes per weight, float32 arithmetic)
  kFloat32,  // "float32": every matrix upcast to float32 at load
  kInt8,     // "int8": weight-only int8 with one scale per output row, quantized at load
  kInt4,     // "int4": group-wise 4-bit, 32 weights per group with a scale and a zero point,
             // quantized at load
  kInt4G64,  // "int4-g64": the same with 64 weights per group
};

// "auto" | "float32" | "int8" | "int4" | "int4-g64".
AUTOLM_API const char* dtype_name(Dtype dtype);
// The inverse of dtype_name(); anything else is Error(kInvalidInput) naming `what` (e.g. "--dtype")
// and the value.
AUTOLM_API Dtype parse_dtype(std::string_view name, std::string_view what = "dtype");

}  // namespace autolm
