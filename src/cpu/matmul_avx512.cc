// AVX-512 kernel (compiled with -mavx512f/bw; only called when the CPU has them). Weight rows
// are converted to float32 in registers (bf16: shift, f16: vcvtph2ps, int8: sign-extend) and
// accumulated with FMA in four independent chains.
#include <immintrin.h>

#include "cpu/matmul.h"
#include "cpu/matmul_int4.h"

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

// NB weight rows against MB activation rows: NB·MB independent FMA chains (a single chain per
// output would wait on FMA latency every 16 weights), each 16-wide weight chunk loaded and
// converted once and used by MB chains.
template <DType T, int NB, int MB>
void row_block(const float* x, int64_t K, const void* W, const float* scales, float* y, int64_t ldy, int64_t n,
               bool accumulate) {
  const size_t esize = dtype_size(T);
  const void* wr[NB];
  for (int j = 0; j < NB; ++j) wr[j] = static_cast<const char*>(W) + (n + j) * K * esize;
  __m512 acc[NB][MB];
  for (int j = 0; j < NB; ++j)
    for (int m = 0; m < MB; ++m) acc[j][m] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {  // fully unrolled body: the accumulators stay in registers
    __m512 w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = load16<T>(wr[j], k);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const __m512 xv = _mm512_loadu_ps(x + m * K + k);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) acc[j][m] = _mm512_fmadd_ps(xv, w[j], acc[j][m]);
    }
  }
  for (int j = 0; j < NB; ++j) {
    const float scale = T == DType::kI8 ? scales[n + j] : 1.f;
    for (int m = 0; m < MB; ++m) {
      float v = _mm512_reduce_add_ps(acc[j][m]);
      for (int64_t kk = k; kk < K; ++kk) v += x[m * K + kk] * scalar_at<T>(wr[j], kk);
      v *= scale;
      float& out = y[m * ldy + n + j];
      out = accumulate ? out + v : v;
    }
  }
}

// Output rows [n0, n1) for M activation rows in blocks of up to 4 (beams, batched decode),
// NB weight rows at a time.
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
    // Small batches (beams, batched decode): four weight rows at a time.
    if (n + 3 < n1) {
      row_blocks<T, 4>(x, M, W, scales, K, n, y, ldy, accumulate);
      n += 3;
    } else {
      row_blocks<T, 1>(x, M, W, scales, K, n, y, ldy, accumulate);
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
    case DType::kI4: return rows_int4_avx512(x, M, W, n0, n1, y, ldy, accumulate);
  }
}

}  // namespace autolm::cpu
