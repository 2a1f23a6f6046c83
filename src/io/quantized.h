// Pre-quantized checkpoints (config.json `quantization_config`): which ones load, and how a
// quantized layer's tensors become an int4 matrix (core/int4.h) at load. Every supported format
// is repacked — integer nibbles and zero points moved, float16 scales widened exactly, nothing
// dequantized to float — so the int4 kernels run them unchanged:
//   gptq (io/gptq.h): bits 4, desc_act false or true (act-order: g_idx permutes input columns),
//   awq  (io/awq.h):  bits 4, version / format "gemm", zero_point true.
// Anything else (another quant_method, other bits, formats, versions) is refused naming the key
// and value.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/json_file.h"

namespace autolm {

struct TensorInfo;  // io/safetensors.h

enum class QuantMethod { kGptq, kAwq };

struct QuantConfig {
  QuantMethod method = QuantMethod::kGptq;
  int64_t group_size = 128;
  int zero_offset = 0;  // gptq: checkpoint_format "gptq" (v1) stores zero − 1 (offset 1), "gptq_v2" the zero
  // Layers kept unquantized (awq's modules_to_not_convert; transformers' should_convert_module
  // rules: a prefix ending at a module boundary, a regular expression, or a suffix).
  std::vector<std::string> modules_to_not_convert;
};

// The checkpoint's quantization_config: none (nullopt) or a supported one; anything else is
// refused (ErrorKind::kUnsupported) naming the key and value.
std::optional<QuantConfig> parse_quantization_config(const JsonConfig& config);

// "GPTQ" / "AWQ", for messages.
const char* quant_method_name(QuantMethod method);

// Whether `layer` ("model.layers.0.mlp.up_proj") is one the config keeps unquantized.
bool keeps_unquantized(const QuantConfig& config, const std::string& layer);

// An int4 matrix built at load; owns its storage (vectors keep their buffers when moved).
struct Int4Matrix {
  std::vector<uint8_t> q;        // (out, in / 2) nibbles
  std::vector<float> scales;     // (out, in / group)
  std::vector<uint8_t> zeros;    // (out, in / group)
  std::vector<int32_t> in_perm;  // empty, or (in): packed column j holds input feature in_perm[j]
  int64_t out = 0, in = 0, group = 0;
  TensorView view() const;
};

// A tensor of the checkpoint by full name, or null when the files lack it; marks it used.
using TensorLookup = std::function<const TensorInfo*(const std::string& name)>;

// The int4 matrix of `layer` from its quantized tensors (`layer` + ".qweight", …), every dtype,
// shape and index validated first (errors name the file, tensor and value); `expected` is
// (out, in) or empty.
Int4Matrix load_quantized_layer(const QuantConfig& config, const std::string& layer, const Shape& expected,
                                const TensorLookup& lookup);

// Element i of a little-endian int32 / float16 array in a file's bytes (possibly unaligned).
inline uint32_t load_u32(const void* base, int64_t i) {
  uint32_t w;
  std::memcpy(&w, static_cast<const unsigned char*>(base) + 4 * i, 4);
  return w;
}
inline uint16_t load_u16(const void* base, int64_t i) {
  uint16_t h;
  std::memcpy(&h, static_cast<const unsigned char*>(base) + 2 * i, 2);
  return h;
}

}  // namespace autolm
