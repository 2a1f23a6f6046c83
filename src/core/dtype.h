// Storage dtypes of safetensors weights and their conversion to float32.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace autolm {

// kI8: weight-only int8 with one float32 scale per output row (quantized at load).
// kI4: group-wise 4-bit weights, two per byte, with per-group scales and zero points
// (core/int4.h describes the layout).
enum class DType { kF32, kF16, kBF16, kI8, kI4 };

// Bytes per element; kI4 packs two elements per byte (returns 1: callers size kI4 rows as K / 2).
inline size_t dtype_size(DType t) { return t == DType::kF32 ? 4 : t == DType::kI8 || t == DType::kI4 ? 1 : 2; }
const char* dtype_name(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// IEEE half to float, handling subnormals, infinities and NaN.
inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Converts n elements of `src` (stored as `t`, not kI8) to float32.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace autolm
