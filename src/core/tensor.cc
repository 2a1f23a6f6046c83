#include "core/tensor.h"

#include <algorithm>

#include "core/int4.h"

namespace autolm {

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void copy_row(const TensorView& w, int64_t r, float* out) {
  const int64_t cols = w.shape.back();
  switch (w.dtype) {
    case DType::kF32:
      std::copy(w.data + r * cols, w.data + (r + 1) * cols, out);
      return;
    case DType::kBF16:
    case DType::kF16:
      convert_to_f32(w.dtype, static_cast<const uint16_t*>(w.qdata) + r * cols, out, size_t(cols));
      return;
    case DType::kI8: {
      const int8_t* q = static_cast<const int8_t*>(w.qdata) + r * cols;
      for (int64_t i = 0; i < cols; ++i) out[i] = float(q[i]) * w.scales[r];
      return;
    }
    case DType::kI4: {
      const uint8_t* q = static_cast<const uint8_t*>(w.qdata) + r * (cols / 2);
      const int64_t groups = cols / w.group;
      for (int64_t i = 0; i < cols; ++i) {
        const int64_t g = r * groups + i / w.group;
        out[w.in_perm ? w.in_perm[i] : i] = w.scales[g] * float(int4_nibble(q, i, cols) - int(w.zeros[g]));
      }
      return;
    }
  }
}

}  // namespace autolm
