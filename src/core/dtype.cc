#include "core/dtype.h"

#include "autolm/error.h"
#include "core/check.h"

namespace autolm {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI8: return "I8";
    case DType::kI4: return "I4";
  }
  return "?";
}

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  if (n == 0) return;  // an empty tensor: dst may be null (memcpy(nullptr, …, 0) is undefined)
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, n * 4);
      return;
    // memcpy per element: the source may be misaligned inside a safetensors file (a 2-byte
    // dtype at an odd offset); the compiler turns it into plain loads.
    case DType::kBF16: {
      const unsigned char* s = static_cast<const unsigned char*>(src);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    }
    case DType::kF16: {
      const unsigned char* s = static_cast<const unsigned char*>(src);
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = f16_to_f32(h);
      }
      return;
    }
    case DType::kI8:
    case DType::kI4:
      AUTOLM_CHECK(false, "quantized weights need their scales: use copy_row");
      return;
  }
}

}  // namespace autolm
