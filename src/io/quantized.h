// Pre-quantized checkpoints (config.json `quantization_config`): which ones load, and how a
// quantized layer's tensors become an int4 matrix (core/int4.h) at load. Every supported format
// is repacked — integer nibbles and zero points moved, float16 scales widened exactly, nothing
// dequantized to float — so the int4 kernels run them unchanged:
//   gptq (io/gptq.h): bits 4, desc_act false or true (act-order: g_idx permutes input columns),
//   awq  (io/awq.h):  bits 4, version / format "gemm", zero_point true,
//   compressed-tensors (io/compressed_tensors.h): format "pack-quantized", one weight scheme of
//        4-bit ints in groups, symmetric or not, actorder (weight_g_idx) or not, no activation
//        quantization.
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

enum class QuantMethod { kGptq, kAwq, kCompressedTensors };

struct QuantConfig {
  QuantMethod method = QuantMethod::kGptq;
  int64_t group_size = 128;
  int zero_offset = 0;  // gptq: checkpoint_format "gptq" (v1) stores zero − 1 (offset 1), "gptq_v2" the zero
  // Layers kept unquantized (awq's modules_to_not_convert; transformers' should_convert_module
  // rules: a prefix ending at a module boundary, a regular expression, or a suffix).
  std::vector<std::string> modules_to_not_convert;
  bool symmetric = true;  // compressed-tensors: no weight_zero_point (zero 8 in the int4 layout)
};

// The checkpoint's quantization_config: none (nullopt) or a supported one; anything else is
// refused (ErrorKind::kUnsupported) naming the key and value.
std::optional<QuantConfig> parse_quantization_config(const JsonConfig& config);

// "GPTQ" / "AWQ" / "compressed-tensors", for messages.
const char* quant_method_name(QuantMethod method);
// The tensor whose presence marks "<layer>" as stored quantized: ".qweight" (gptq, awq) or
// ".weight_packed" (compressed-tensors).
const char* quantized_marker(QuantMethod method);

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

// The int4 matrix of `layer` from its quantized tensors (`layer` + marker, …), every dtype,
// shape and index validated first (errors name the file, tensor and value); `expected` is
// (out, in) or empty.
Int4Matrix load_quantized_layer(const QuantConfig& config, const std::string& layer, const Shape& expected,
                                const TensorLookup& lookup);

// The packed column of each input feature k of a K-column matrix in groups of G, from a g_idx
// (int32 (K) in a file's bytes: the group of each input feature; null: k / G). A g_idx other than
// k / G sorts the columns by group (stably) and sets `in_perm` (packed column j holds input
// feature in_perm[j]); otherwise `in_perm` is left empty. g_idx is untrusted: every value must
// lie in [0, K / G) and every group hold exactly G features; errors name `g_idx_name`.
std::vector<int32_t> int4_columns_by_group(const void* g_idx, int64_t K, int64_t G, const std::string& g_idx_name,
                                           std::vector<int32_t>& in_perm);

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
