// AVX-512 VNNI int4 kernel (compiled with -mavx512vnni; used only when the CPU has it).
// Activations are quantized to int8 per block of 32 (scale amax / 127, as the int8 path and
// llama.cpp's Q8_0 do); each 64-weight chunk is unpacked to 64 unsigned bytes (one AND, one
// shift, one insert) and vpdpbusd multiplies them with the signed activation bytes: 16 lanes of
// 4 products, lanes 0-7 the chunk's first 32 weights, 8-15 its last 32. Each lane is scaled by
// its weight group's d and its activation block's scale; the zero points come off once per group:
//   Σ x·w = Σ_g d_g · (sx · Σ xq·q − z_g · Σ_g x̂),  Σ_g x̂ = Σ over the group of sx·xq.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/matmul_int4.h"

namespace autolm::cpu {

namespace {

constexpr int kBlock = 32;

struct QuantizedRow {
  std::vector<int8_t> q;          // (K) round(x / sx)
  std::vector<float> lane_scale;  // (K / 4) the block's sx, once per int32 lane
  std::vector<float> group_sum;   // (K / group) Σ sx·q over each weight group
};

void quantize_row(const float* x, int64_t K, int64_t group, QuantizedRow& r) {
  r.q.resize(K);
  r.lane_scale.resize(K / 4);
  r.group_sum.assign(K / group, 0.f);
  const __m512 sign_bit = _mm512_set1_ps(-0.f);
  for (int64_t b = 0; b < K; b += kBlock) {
    const __m512 lo = _mm512_loadu_ps(x + b), hi = _mm512_loadu_ps(x + b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign_bit, lo), _mm512_andnot_ps(sign_bit, hi)));
    const float scale = amax / 127.f;
    const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.q.data() + b), _mm512_cvtepi32_epi8(qlo));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.q.data() + b + 16), _mm512_cvtepi32_epi8(qhi));
    _mm256_storeu_ps(r.lane_scale.data() + b / 4, _mm256_set1_ps(scale));
    r.group_sum[b / group] += scale * float(_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi)));
  }
}

// Σ_g d_g · z_g · group_sum_g over one weight row: the zero points' share, 16 groups at a time.
inline float zero_correction(const float* d, const uint8_t* z, const float* group_sum, int64_t groups) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; g += 16) {
    const __mmask16 live = groups - g >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (groups - g)) - 1);
    const __m512 zf = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(live, z + g)));
    const __m512 dz = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, d + g), zf);
    acc = _mm512_fmadd_ps(dz, _mm512_maskz_loadu_ps(live, group_sum + g), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// Weight row n against MB activation rows.
template <int MB>
void row_block(const QuantizedRow* rows, const TensorView& W, int64_t K, int64_t n, float* y, int64_t ldy,
               bool accumulate) {
  const int64_t G = W.group, groups = K / G;
  const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
  const float* d = W.scales + n * groups;
  const uint8_t* z = W.zeros + n * groups;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m512 acc[MB][2];
  for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    if (MB == 1) _mm_prefetch(reinterpret_cast<const char*>(row + K + k / 2), _MM_HINT_T0);  // two rows ahead
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(b, mask)),
                                         _mm256_and_si256(_mm256_srli_epi16(b, 4), mask), 1);
    const __m512 dv = G >= 64 ? _mm512_set1_ps(d[k / G])  // one group (64, 128, …) or two of 32
                              : _mm512_insertf32x8(_mm512_set1_ps(d[k / G]), _mm256_set1_ps(d[k / G + 1]), 1);
    const int c = int(k / 64) & 1;
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(rows[m].q.data() + k));
      const __m512 scale = _mm512_mul_ps(dv, _mm512_loadu_ps(rows[m].lane_scale.data() + k / 4));
      acc[m][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[m][c]);
    }
  }
  if (k < K) {  // the last 32 weights (one group of 32): 16 bytes, low nibbles then high nibbles
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
    const __m256 dv = _mm256_set1_ps(d[k / G]);
    for (int m = 0; m < MB; ++m) {
      const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q,
                                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[m].q.data() + k)));
      const __m256 scale = _mm256_mul_ps(dv, _mm256_loadu_ps(rows[m].lane_scale.data() + k / 4));
      acc[m][0] = _mm512_add_ps(acc[m][0], _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), scale)));
    }
  }
  for (int m = 0; m < MB; ++m) {
    const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[m][0], acc[m][1])) -
                    zero_correction(d, z, rows[m].group_sum.data(), groups);
    float& out = y[m * ldy + n];
    out = accumulate ? out + v : v;
  }
}

}  // namespace

void rows_int4_vnni(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                    bool accumulate) {
  const int64_t K = W.shape[1];
  thread_local std::vector<QuantizedRow> rows;
  if (rows.size() < size_t(M)) rows.resize(M);
  for (int64_t m = 0; m < M; ++m) quantize_row(x + m * K, K, W.group, rows[m]);
  // Activation rows in chunks of ~256 KB (L2) against every weight row, as the int8 kernel does.
  const int64_t chunk = std::max<int64_t>(4, (int64_t(256) << 10) / K / 4 * 4);
  for (int64_t m0 = 0; m0 < M; m0 += chunk) {
    const int64_t mc = std::min(chunk, M - m0);
    const QuantizedRow* r = rows.data() + m0;
    float* yc = y + m0 * ldy;
    for (int64_t n = n0; n < n1; ++n) {
      int64_t m = 0;
      for (; m + 4 <= mc; m += 4) row_block<4>(r + m, W, K, n, yc + m * ldy, ldy, accumulate);
      switch (mc - m) {
        case 3: row_block<3>(r + m, W, K, n, yc + m * ldy, ldy, accumulate); break;
        case 2: row_block<2>(r + m, W, K, n, yc + m * ldy, ldy, accumulate); break;
        case 1: row_block<1>(r + m, W, K, n, yc + m * ldy, ldy, accumulate); break;
        default: break;
      }
    }
  }
}

}  // namespace autolm::cpu
