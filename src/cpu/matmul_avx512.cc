// AVX-512 kernel (compiled with -mavx512f/bw; only called when the CPU has them). Weight rows
// are converted to float32 in registers (bf16: shift, f16: vcvtph2ps, int8: sign-extend) and
// accumulated with FMA in four independent chains.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

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

// Float32 weights, 16·MV activation rows at a time (batched decode, beams, short prompts): each
// weight element, broadcast (folded into the FMA's memory operand), multiplies 16 activation rows
// of x transposed, xt: (K, ldx) — no horizontal sums, so the FMAs run at the core's rate instead
// of paying a reduction per output every few dozen multiply-adds. Each output sums k = 0, 1, … in
// that order (blocks of 128, see below): a row's result does not depend on the other rows. Only the first
// `valid` of the 16·MV rows are stored (xt's columns past them are zero padding).
template <int NB, int MV>
void bcast_block(const float* xt, int64_t ldx, int64_t K, const float* W, int64_t n, float* y, int64_t ldy,
                 int64_t valid, bool accumulate) {
  // Sums run in blocks of kBlock k-steps, each block's chain added to a running total: the
  // rounding of one FMA chain per kBlock terms instead of per K (a plain chain over K = 2048
  // drifts by a few ulps more than BLAS's blocked sums), for one add per output per block.
  constexpr int64_t kBlock = 128;
  const float* wr[NB];
  for (int j = 0; j < NB; ++j) wr[j] = W + (n + j) * K;
  __m512 total[NB][MV];
  for (int j = 0; j < NB; ++j)
    for (int v = 0; v < MV; ++v) total[j][v] = _mm512_setzero_ps();
  for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
    const int64_t k1 = std::min(K, k0 + kBlock);
    __m512 acc[NB][MV];
    for (int j = 0; j < NB; ++j)
      for (int v = 0; v < MV; ++v) acc[j][v] = _mm512_setzero_ps();
    for (int64_t k = k0; k < k1; ++k) {
      if (k % 16 == 0)  // the next cache line of every weight row, 64 elements ahead
        for (int j = 0; j < NB; ++j) _mm_prefetch(reinterpret_cast<const char*>(wr[j] + k + 64), _MM_HINT_T0);
      __m512 xv[MV];
      for (int v = 0; v < MV; ++v) xv[v] = _mm512_loadu_ps(xt + k * ldx + 16 * v);
#pragma GCC unroll 24
      for (int j = 0; j < NB; ++j) {
        const __m512 w = _mm512_set1_ps(wr[j][k]);
        for (int v = 0; v < MV; ++v) acc[j][v] = _mm512_fmadd_ps(w, xv[v], acc[j][v]);
      }
    }
    for (int j = 0; j < NB; ++j)
      for (int v = 0; v < MV; ++v) total[j][v] = _mm512_add_ps(total[j][v], acc[j][v]);
  }
  alignas(64) float lanes[16];
  for (int j = 0; j < NB; ++j)
    for (int v = 0; v < MV; ++v) {
      _mm512_store_ps(lanes, total[j][v]);
      for (int l = 0; l < 16 && 16 * v + l < valid; ++l) {
        float& out = y[(16 * v + l) * ldy + n + j];
        out = accumulate ? out + lanes[l] : lanes[l];
      }
    }
}

// Float32, M ≥ 8 rows: x transposed into xt (K, M rounded up to 16, zero columns past M), then
// bcast_block over NB weight rows at a time against 32 activation rows (then 16) per block, so
// that a block's weight rows, read from memory once, serve every activation row from cache
// while xt's 32-row slice stays in L1/L2.
void rows_f32_broadcast(const float* x, int64_t M, const float* W, int64_t K, int64_t n0, int64_t n1, float* y,
                        int64_t ldy, bool accumulate) {
  constexpr int NB = 12;  // 12 × 2 accumulators + 2 activation vectors ≤ 32 registers
  const int64_t Mp = (M + 15) / 16 * 16;
  thread_local std::vector<float> xt_buf;  // (K, Mp), grows only
  if (xt_buf.size() < size_t(K * Mp)) xt_buf.resize(size_t(K * Mp));
  float* xt = xt_buf.data();
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t m = 0; m < M; ++m) xt[k * Mp + m] = x[m * K + k];
    for (int64_t m = M; m < Mp; ++m) xt[k * Mp + m] = 0.f;
  }
  auto block = [&](auto nb, int64_t n) {
    constexpr int kNB = decltype(nb)::value;
    for (int64_t m = 0; m < Mp; m += 32) {
      if (Mp - m >= 32) bcast_block<kNB, 2>(xt + m, Mp, K, W, n, y + m * ldy, ldy, M - m, accumulate);
      else bcast_block<kNB, 1>(xt + m, Mp, K, W, n, y + m * ldy, ldy, M - m, accumulate);
    }
  };
  int64_t n = n0;
  for (; n + NB <= n1; n += NB) block(std::integral_constant<int, NB>{}, n);
  for (; n + 4 <= n1; n += 4) block(std::integral_constant<int, 4>{}, n);
  for (; n < n1; ++n) block(std::integral_constant<int, 1>{}, n);
}

template <DType T>
void rows(const float* x, int64_t M, const void* W, const float* scales, int64_t K, int64_t n0, int64_t n1, float* y,
          int64_t ldy, bool accumulate) {
  const size_t esize = dtype_size(T);
  if constexpr (T == DType::kF32) {
    // From 8 rows on, half a vector of activation rows or more, broadcasting beats the blocks below.
    if (M >= 8) return rows_f32_broadcast(x, M, static_cast<const float*>(W), K, n0, n1, y, ldy, accumulate);
  }
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
