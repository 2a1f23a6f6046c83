// AVX-512 kernel (compiled with -mavx512f/bw; only called when the CPU has them). Weight rows
// are converted to float32 in registers (bf16: shift, f16: vcvtph2ps, int8: sign-extend) and
// accumulated with FMA in four independent chains.
#include <immintrin.h>

#include "cpu/matmul.h"

namespace autolm::cpu {

namespace {

template <DType T>
inline __m512 load16(const void* w, int64_t k) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(static_cast<const float*>(w) + k);
  } else if constexpr (T == DType::kBF16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else if constexpr (T == DType::kF16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + k));
    return _mm512_cvtph_ps(h);
  } else {
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(w) + k));
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b));
  }
}

template <DType T>
inline float scalar_at(const void* w, int64_t k) {
  if constexpr (T == DType::kF32) return static_cast<const float*>(w)[k];
  else if constexpr (T == DType::kBF16) return bf16_to_f32(static_cast<const uint16_t*>(w)[k]);
  else if constexpr (T == DType::kF16) return f16_to_f32(static_cast<const uint16_t*>(w)[k]);
  else return float(static_cast<const int8_t*>(w)[k]);
}

// One weight row against MB activation rows: each 16-wide weight chunk is loaded and
// converted once, then used by MB independent FMA chains.
template <DType T, int MB>
void row_block(const float* x, int64_t K, const void* wr, float scale, float* y, int64_t ldy, int64_t n,
               bool accumulate) {
  __m512 acc[MB];
  for (int m = 0; m < MB; ++m) acc[m] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 w = load16<T>(wr, k);
    for (int m = 0; m < MB; ++m) acc[m] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m * K + k), w, acc[m]);
  }
  for (int m = 0; m < MB; ++m) {
    float v = _mm512_reduce_add_ps(acc[m]);
    for (int64_t kk = k; kk < K; ++kk) v += x[m * K + kk] * scalar_at<T>(wr, kk);
    v *= scale;
    y[m * ldy + n] = accumulate ? y[m * ldy + n] + v : v;
  }
}

template <DType T>
void rows(const float* x, int64_t M, const void* W, const float* scales, int64_t K, int64_t n0, int64_t n1, float* y,
          int64_t ldy, bool accumulate) {
  const size_t esize = dtype_size(T);
  for (int64_t n = n0; n < n1; ++n) {
    const void* wr = static_cast<const char*>(W) + n * K * esize;
    const float scale = T == DType::kI8 ? scales[n] : 1.f;
    if (M == 1) {  // decode: four chains along k
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
      int64_t k = 0;
      for (; k + 64 <= K; k += 64) {
        // Prefetch the same offset two rows ahead: more lines in flight than the hardware
        // prefetcher keeps across row boundaries.
        const char* ahead = static_cast<const char*>(wr) + (2 * K + k) * int64_t(dtype_size(T));
        for (int64_t line = 0; line < 64 * int64_t(dtype_size(T)); line += 64) _mm_prefetch(ahead + line, _MM_HINT_T0);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load16<T>(wr, k), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), load16<T>(wr, k + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), load16<T>(wr, k + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), load16<T>(wr, k + 48), a3);
      }
      for (; k + 16 <= K; k += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), load16<T>(wr, k), a0);
      float acc = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
      for (; k < K; ++k) acc += x[k] * scalar_at<T>(wr, k);
      acc *= scale;
      y[n] = accumulate ? y[n] + acc : acc;
      continue;
    }
    // Small batches (beams, batched decode): blocks of up to 4 activation rows.
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) row_block<T, 4>(x + m * K, K, wr, scale, y + m * ldy, ldy, n, accumulate);
    switch (M - m) {
      case 3: row_block<T, 3>(x + m * K, K, wr, scale, y + m * ldy, ldy, n, accumulate); break;
      case 2: row_block<T, 2>(x + m * K, K, wr, scale, y + m * ldy, ldy, n, accumulate); break;
      case 1: row_block<T, 1>(x + m * K, K, wr, scale, y + m * ldy, ldy, n, accumulate); break;
      default: break;
    }
  }
}

}  // namespace

void rows_avx512(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
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
