// Scalar reference kernel: the definition every SIMD variant is tested against.
#include "core/int4.h"
#include "cpu/matmul.h"

namespace autolm::cpu {

static inline float weight_at(const TensorView& W, int64_t n, int64_t k, int64_t K) {
  switch (W.dtype) {
    case DType::kF32: return W.data[n * K + k];
    case DType::kBF16: return bf16_to_f32(static_cast<const uint16_t*>(W.qdata)[n * K + k]);
    case DType::kF16: return f16_to_f32(static_cast<const uint16_t*>(W.qdata)[n * K + k]);
    case DType::kI8: return float(static_cast<const int8_t*>(W.qdata)[n * K + k]);
    case DType::kI4: {  // d · (q − z), core/int4.h
      const int64_t g = n * (K / W.group) + k / W.group;
      const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
      return W.scales[g] * float(int4_nibble(row, k, K) - int(W.zeros[g]));
    }
  }
  return 0.f;
}

void rows_scalar(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool accumulate) {
  const int64_t K = W.shape[1];
  for (int64_t n = n0; n < n1; ++n) {
    const float scale = W.dtype == DType::kI8 ? W.scales[n] : 1.f;
    for (int64_t m = 0; m < M; ++m) {
      float acc = 0.f;
      for (int64_t k = 0; k < K; ++k) acc += x[m * K + k] * weight_at(W, n, k, K);
      acc *= scale;
      y[m * ldy + n] = accumulate ? y[m * ldy + n] + acc : acc;
    }
  }
}

void dequantize_rows(const TensorView& W, int64_t n0, int64_t n1, float* out) {
  const int64_t K = W.shape[1];
  for (int64_t n = n0; n < n1; ++n) copy_row(W, n, out + (n - n0) * K);
}

}  // namespace autolm::cpu
