// AVX2 kernel (compiled with -mavx2 -mfma -mf16c; only called when the CPU has them). Weight rows
// are converted to float32 in registers (bf16: shift, f16: vcvtph2ps, int8: sign-extend) and
// accumulated with FMA in four independent chains.
#include <immintrin.h>

#include "cpu/matmul.h"

namespace autolm::cpu {

namespace {

template <DType T>
inline __m256 load8(const void* w, int64_t k) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + k);
  } else if constexpr (T == DType::kBF16) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else if constexpr (T == DType::kF16) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + k));
    return _mm256_cvtph_ps(h);
  } else {
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(w) + k));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
  }
}

template <DType T>
inline float scalar_at(const void* w, int64_t k) {
  if constexpr (T == DType::kF32) return static_cast<const float*>(w)[k];
  else if constexpr (T == DType::kBF16) return bf16_to_f32(static_cast<const uint16_t*>(w)[k]);
  else if constexpr (T == DType::kF16) return f16_to_f32(static_cast<const uint16_t*>(w)[k]);
  else return float(static_cast<const int8_t*>(w)[k]);
}

template <DType T>
void rows(const float* x, int64_t M, const void* W, const float* scales, int64_t K, int64_t n0, int64_t n1, float* y,
          int64_t ldy, bool accumulate) {
  const size_t esize = dtype_size(T);
  for (int64_t n = n0; n < n1; ++n) {
    const void* wr = static_cast<const char*>(W) + n * K * esize;
    const float scale = T == DType::kI8 ? scales[n] : 1.f;
    for (int64_t m = 0; m < M; ++m) {
      const float* xr = x + m * K;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      int64_t k = 0;
      for (; k + 32 <= K; k += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k), load8<T>(wr, k), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k + 8), load8<T>(wr, k + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k + 16), load8<T>(wr, k + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k + 24), load8<T>(wr, k + 24), a3);
      }
      for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(xr + k), load8<T>(wr, k), a0);
      const __m256 sum = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
      __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
      s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      s4 = _mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1));
      float acc = _mm_cvtss_f32(s4);
      for (; k < K; ++k) acc += xr[k] * scalar_at<T>(wr, k);
      acc *= scale;
      y[m * ldy + n] = accumulate ? y[m * ldy + n] + acc : acc;
    }
  }
}

}  // namespace

void rows_avx2(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool accumulate) {
  const int64_t K = W.shape[1];
  switch (W.dtype) {
    case DType::kF32: return rows<DType::kF32>(x, M, W.data, nullptr, K, n0, n1, y, ldy, accumulate);
    case DType::kBF16: return rows<DType::kBF16>(x, M, W.qdata, nullptr, K, n0, n1, y, ldy, accumulate);
    case DType::kF16: return rows<DType::kF16>(x, M, W.qdata, nullptr, K, n0, n1, y, ldy, accumulate);
    case DType::kI8: return rows<DType::kI8>(x, M, W.qdata, W.scales, K, n0, n1, y, ldy, accumulate);
  }
}

}  // namespace autolm::cpu
