// AVX2 kernel (compiled with -mavx2 -mfma -mf16c; only called when the CPU has them). Weight rows
// are converted to float32 in registers (bf16: shift, f16: vcvtph2ps, int8: sign-extend) and
// accumulated with FMA in four independent chains (one input row) or in blocks of two weight
// rows × up to four input rows.
#include <immintrin.h>

#include "cpu/matmul.h"
#include "cpu/matmul_int4.h"

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

inline float hsum(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1));
  return _mm_cvtss_f32(s4);
}

// NB weight rows × MB input rows (beams, batches): NB·MB independent FMA chains, each weight
// chunk loaded and converted once per block (16 ymm registers: NB = 2, MB ≤ 4).
template <DType T, int NB, int MB>
void row_block(const float* x, int64_t K, const void* W, const float* scales, float* y, int64_t ldy, int64_t n,
               bool accumulate) {
  const size_t esize = dtype_size(T);
  const void* wr[NB];
  for (int j = 0; j < NB; ++j) wr[j] = static_cast<const char*>(W) + (n + j) * K * esize;
  __m256 acc[NB][MB];
  for (int j = 0; j < NB; ++j)
    for (int m = 0; m < MB; ++m) acc[j][m] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {  // fully unrolled body: the accumulators stay in registers
    __m256 w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = load8<T>(wr[j], k);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const __m256 xv = _mm256_loadu_ps(x + m * K + k);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) acc[j][m] = _mm256_fmadd_ps(xv, w[j], acc[j][m]);
    }
  }
  for (int j = 0; j < NB; ++j) {
    const float scale = T == DType::kI8 ? scales[n + j] : 1.f;
    for (int m = 0; m < MB; ++m) {
      float v = hsum(acc[j][m]);
      for (int64_t kk = k; kk < K; ++kk) v += x[m * K + kk] * scalar_at<T>(wr[j], kk);
      v *= scale;
      float& out = y[m * ldy + n + j];
      out = accumulate ? out + v : v;
    }
  }
}

template <DType T, int NB>
void row_blocks(const float* x, int64_t M, const void* W, const float* scales, int64_t K, int64_t n, float* y,
                int64_t ldy, bool accumulate) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) row_block<T, NB, 4>(x + m * K, K, W, scales, y + m * ldy, ldy, n, accumulate);
  switch (M - m) {
    case 3: row_block<T, NB, 3>(x + m * K, K, W, scales, y + m * ldy, ldy, n, accumulate); break;
    case 2: row_block<T, NB, 2>(x + m * K, K, W, scales, y + m * ldy, ldy, n, accumulate); break;
    case 1: row_block<T, NB, 1>(x + m * K, K, W, scales, y + m * ldy, ldy, n, accumulate); break;
    default: break;
  }
}

template <DType T>
void rows(const float* x, int64_t M, const void* W, const float* scales, int64_t K, int64_t n0, int64_t n1, float* y,
          int64_t ldy, bool accumulate) {
  const size_t esize = dtype_size(T);
  if (M > 1) {  // two weight rows at a time
    int64_t n = n0;
    for (; n + 2 <= n1; n += 2) row_blocks<T, 2>(x, M, W, scales, K, n, y, ldy, accumulate);
    if (n < n1) row_blocks<T, 1>(x, M, W, scales, K, n, y, ldy, accumulate);
    return;
  }
  for (int64_t n = n0; n < n1; ++n) {  // decode: one input row, four chains along k
    const void* wr = static_cast<const char*>(W) + n * K * esize;
    const float scale = T == DType::kI8 ? scales[n] : 1.f;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load8<T>(wr, k), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 8), load8<T>(wr, k + 8), a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 16), load8<T>(wr, k + 16), a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k + 24), load8<T>(wr, k + 24), a3);
    }
    for (; k + 8 <= K; k += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), load8<T>(wr, k), a0);
    float acc = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; k < K; ++k) acc += x[k] * scalar_at<T>(wr, k);
    acc *= scale;
    y[n] = accumulate ? y[n] + acc : acc;
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
    case DType::kI4: return rows_int4_avx2(x, M, W, n0, n1, y, ldy, accumulate);
  }
}

}  // namespace autolm::cpu
