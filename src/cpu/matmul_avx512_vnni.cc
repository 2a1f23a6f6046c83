// AVX-512 VNNI kernel for int8 weights (compiled with -mavx512vnni; used only when the CPU has
// it): activations are quantized on the fly to int8 with one scale per block of 32 (as
// llama.cpp's Q8_0 dot products do), so each 64 multiply-adds are one vpdpbusd
// instead of 64 conversions + FMAs. Other weight dtypes use the plain AVX-512 kernel.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/matmul.h"
#include "cpu/matmul_int4.h"

namespace autolm::cpu {

namespace {

constexpr int kBlock = 32;

// One activation row quantized: |q| as u8 (vpdpbusd's unsigned operand), the sign of q as a
// bit mask (applied to the weights instead), and the block scale repeated once per int32 lane
// (each lane sums 4 consecutive products, so 8 lanes share a block).
struct QuantizedRow {
  std::vector<uint8_t> abs_q;     // (K_padded)
  std::vector<uint64_t> neg;      // (K_padded / 64) sign masks
  std::vector<float> lane_scale;  // (K_padded / 4)
};

// K is a multiple of 64 (checked by the caller). Vectorised: 32 values per block, two
// 16-lane halves; rounding to nearest even as lrint does.
void quantize_row(const float* x, int64_t K, QuantizedRow& r) {
  r.abs_q.resize(K);
  r.neg.resize(K / 64);
  r.lane_scale.resize(K / 4);
  const __m512 sign_bit = _mm512_set1_ps(-0.f);
  for (int64_t b = 0; b < K; b += kBlock) {
    const __m512 lo = _mm512_loadu_ps(x + b), hi = _mm512_loadu_ps(x + b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign_bit, lo), _mm512_andnot_ps(sign_bit, hi)));
    const float scale = amax / 127.f;
    const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.abs_q.data() + b), _mm512_cvtepi32_epi8(_mm512_abs_epi32(qlo)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.abs_q.data() + b + 16), _mm512_cvtepi32_epi8(_mm512_abs_epi32(qhi)));
    const uint64_t neg = uint64_t(_mm512_movepi32_mask(qlo)) | (uint64_t(_mm512_movepi32_mask(qhi)) << 16);
    const int shift = int(b % 64);
    if (shift == 0) r.neg[b / 64] = neg;
    else r.neg[b / 64] |= neg << shift;
    _mm256_storeu_ps(r.lane_scale.data() + b / 4, _mm256_set1_ps(scale));
  }
}

// NB weight rows × MB activation rows (M > 1: beams, batches, prefill): each 64-byte weight chunk
// and each activation chunk is loaded once per block, NB·MB independent accumulators.
template <int NB, int MB>
void vnni_block(const QuantizedRow* rows, const int8_t* W, const float* wscale, int64_t K, int64_t n, float* y,
                int64_t ldy, bool accumulate) {
  __m512 acc[NB][MB];
  for (int j = 0; j < NB; ++j)
    for (int m = 0; m < MB; ++m) acc[j][m] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 64) {
    __m512i w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(W + (n + j) * K + k);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const __m512i a = _mm512_loadu_si512(rows[m].abs_q.data() + k);
      const __mmask64 neg = __mmask64(rows[m].neg[k / 64]);
      const __m512 scale = _mm512_loadu_ps(rows[m].lane_scale.data() + k / 4);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) {
        const __m512i ws = _mm512_mask_sub_epi8(w[j], neg, _mm512_setzero_si512(), w[j]);
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), a, ws);
        acc[j][m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[j][m]);
      }
    }
  }
  for (int j = 0; j < NB; ++j)
    for (int m = 0; m < MB; ++m) {
      const float v = _mm512_reduce_add_ps(acc[j][m]) * wscale[n + j];
      float& out = y[m * ldy + n + j];
      out = accumulate ? out + v : v;
    }
}

template <int NB>
void vnni_blocks(const QuantizedRow* rows, int64_t M, const int8_t* W, const float* wscale, int64_t K,
                 int64_t n, float* y, int64_t ldy, bool accumulate) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) vnni_block<NB, 4>(rows + m, W, wscale, K, n, y + m * ldy, ldy, accumulate);
  switch (M - m) {
    case 3: vnni_block<NB, 3>(rows + m, W, wscale, K, n, y + m * ldy, ldy, accumulate); break;
    case 2: vnni_block<NB, 2>(rows + m, W, wscale, K, n, y + m * ldy, ldy, accumulate); break;
    case 1: vnni_block<NB, 1>(rows + m, W, wscale, K, n, y + m * ldy, ldy, accumulate); break;
    default: break;
  }
}

}  // namespace

void rows_avx512_vnni(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                      bool accumulate) {
  const int64_t K = W.shape[1];
  if (W.dtype == DType::kI4) return rows_int4_vnni(x, M, W, n0, n1, y, ldy, accumulate);
  if (W.dtype != DType::kI8 || K % 64 != 0) return rows_avx512(x, M, W, n0, n1, y, ldy, accumulate);
  thread_local std::vector<QuantizedRow> rows;
  if (rows.size() < size_t(M)) rows.resize(M);
  for (int64_t m = 0; m < M; ++m) quantize_row(x + m * K, K, rows[m]);
  const int8_t* Wq = static_cast<const int8_t*>(W.qdata);
  if (M > 1) {
    // Four weight rows at a time against blocks of four activation rows; the activation rows in
    // chunks of ~256 KB (L2), so a long prompt re-reads the weights once per chunk instead of
    // streaming all activations from L3 for every four weight rows.
    const int64_t chunk = std::max<int64_t>(4, (int64_t(256) << 10) / K / 4 * 4);
    for (int64_t m0 = 0; m0 < M; m0 += chunk) {
      const int64_t mc = std::min(chunk, M - m0);
      const QuantizedRow* r = rows.data() + m0;
      float* yc = y + m0 * ldy;
      int64_t n = n0;
      for (; n + 4 <= n1; n += 4) vnni_blocks<4>(r, mc, Wq, W.scales, K, n, yc, ldy, accumulate);
      for (; n < n1; ++n) vnni_blocks<1>(r, mc, Wq, W.scales, K, n, yc, ldy, accumulate);
    }
    return;
  }
  const QuantizedRow& r = rows[0];  // decode: one activation row, two chains along k
  for (int64_t n = n0; n < n1; ++n) {
    const int8_t* wr = Wq + n * K;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(wr + 2 * K + k), _MM_HINT_T0);  // two rows ahead
      const __m512i w = _mm512_loadu_si512(wr + k);
      const __m512i a = _mm512_loadu_si512(r.abs_q.data() + k);
      // w carries x's sign: Σ |x|·(±w) = Σ x·w.
      const __m512i ws = _mm512_mask_sub_epi8(w, __mmask64(r.neg[k / 64]), _mm512_setzero_si512(), w);
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), a, ws);  // 16 lanes × 4 products
      const __m512 scale = _mm512_loadu_ps(r.lane_scale.data() + k / 4);
      if ((k / 64) % 2 == 0) acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc0);
      else acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc1);
    }
    const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) * W.scales[n];
    y[n] = accumulate ? y[n] + v : v;
  }
}

}  // namespace autolm::cpu
