// Pre-quantized checkpoints (config.json `quantization_config`): which ones load, and GPTQ's
// 4-bit tensors repacked into autolm's int4 layout (core/int4.h) at load — integer nibbles and
// zero points moved, float16 scales widened exactly, nothing dequantized to float.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.h"
#include "io/json_file.h"

namespace autolm {

struct GptqConfig {
  int64_t group_size = 128;
  int zero_offset = 1;  // checkpoint_format "gptq" (v1) stores zero − 1; "gptq_v2" the zero itself
};

// The checkpoint's quantization_config: none (nullopt), or GPTQ with bits 4, desc_act false and a
// group size the int4 kernels run (32 or a multiple of 64). Anything else (another quant_method,
// other bits, desc_act true, an unknown checkpoint_format) is refused naming the key and value.
std::optional<GptqConfig> parse_quantization_config(const JsonConfig& config);

// GPTQ tensors of one linear layer, as the safetensors file holds them (validated here):
//   qweight int32 (in / 8, out), qzeros int32 (in / group, out / 8), scales float16 (in / group, out),
//   g_idx int32 (in) or absent.
struct GptqTensors {
  const void* qweight;
  const void* qzeros;
  const void* scales;
  const void* g_idx;  // null when absent
  int64_t in_features, out_features;
};

// Repacks into `q` (out, in / 2) nibbles, `scales` (out, in / group) and `zeros` (out, in / group);
// returns the kI4 view over them. `what` names the layer in errors (a g_idx other than i / group).
TensorView repack_gptq(const GptqTensors& t, const GptqConfig& cfg, uint8_t* q, float* scales, uint8_t* zeros,
                       const std::string& what);

}  // namespace autolm
