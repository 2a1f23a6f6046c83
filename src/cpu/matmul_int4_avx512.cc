// AVX-512 int4 kernel (float arithmetic; compiled with -mavx512f/bw/dq): each chunk of 64 packed
// weights is unpacked once (one AND, one shift), widened to four float vectors and dequantized
// with one FMA each (w = q·d − z·d), then multiplied into up to four activation rows.
#include <immintrin.h>

#include "cpu/matmul_int4.h"

namespace autolm::cpu {

namespace {

inline __m512 widen16(__m128i bytes) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)); }

// The 64 weights of a full chunk as float32, dequantized: w[0..15], w[16..31], w[32..47], w[48..63].
// `d` / `z`: the scales and zero points of the chunk's first group (group size 32, or a multiple
// of 64: the whole chunk in one group).
inline void dequantize_chunk(const uint8_t* bytes, const float* d, const uint8_t* z, int64_t group, __m512 w[4]) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes));
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(b, mask), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask);
  const __m512 d0 = _mm512_set1_ps(d[0]), dz0 = _mm512_set1_ps(d[0] * float(z[0]));
  const __m512 d1 = group == 32 ? _mm512_set1_ps(d[1]) : d0;
  const __m512 dz1 = group == 32 ? _mm512_set1_ps(d[1] * float(z[1])) : dz0;
  w[0] = _mm512_fmsub_ps(widen16(_mm256_castsi256_si128(lo)), d0, dz0);
  w[1] = _mm512_fmsub_ps(widen16(_mm256_extracti128_si256(lo, 1)), d0, dz0);
  w[2] = _mm512_fmsub_ps(widen16(_mm256_castsi256_si128(hi)), d1, dz1);
  w[3] = _mm512_fmsub_ps(widen16(_mm256_extracti128_si256(hi, 1)), d1, dz1);
}

// The last chunk of 32 weights (K % 64 == 32, one group of 32): w[0..15], w[16..31].
inline void dequantize_tail(const uint8_t* bytes, float d, uint8_t z, __m512 w[2]) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m512 dv = _mm512_set1_ps(d), dz = _mm512_set1_ps(d * float(z));
  w[0] = _mm512_fmsub_ps(widen16(_mm_and_si128(b, mask)), dv, dz);
  w[1] = _mm512_fmsub_ps(widen16(_mm_and_si128(_mm_srli_epi16(b, 4), mask)), dv, dz);
}

// Weight row n against MB activation rows: two FMA chains per activation row.
template <int MB>
void row_block(const float* x, int64_t K, const TensorView& W, int64_t n, float* y, int64_t ldy, bool accumulate) {
  const int64_t groups = K / W.group;
  const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
  const float* d = W.scales + n * groups;
  const uint8_t* z = W.zeros + n * groups;
  __m512 acc[MB][2];
  for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    if (MB == 1) _mm_prefetch(reinterpret_cast<const char*>(row + K + k / 2), _MM_HINT_T0);  // two rows ahead
    __m512 w[4];
    dequantize_chunk(row + k / 2, d + k / W.group, z + k / W.group, W.group, w);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const float* xm = x + m * K + k;
      acc[m][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xm), w[0], acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xm + 16), w[1], acc[m][1]);
      acc[m][0] = _mm512_fmadd_ps(_mm512_loadu_ps(xm + 32), w[2], acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(_mm512_loadu_ps(xm + 48), w[3], acc[m][1]);
    }
  }
  if (k < K) {
    __m512 w[2];
    dequantize_tail(row + k / 2, d[k / W.group], z[k / W.group], w);
    for (int m = 0; m < MB; ++m) {
      acc[m][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m * K + k), w[0], acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(_mm512_loadu_ps(x + m * K + k + 16), w[1], acc[m][1]);
    }
  }
  for (int m = 0; m < MB; ++m) {
    const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[m][0], acc[m][1]));
    float& out = y[m * ldy + n];
    out = accumulate ? out + v : v;
  }
}

}  // namespace

void rows_int4_avx512(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                      bool accumulate) {
  const int64_t K = W.shape[1];
  for (int64_t n = n0; n < n1; ++n) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) row_block<4>(x + m * K, K, W, n, y + m * ldy, ldy, accumulate);
    switch (M - m) {
      case 3: row_block<3>(x + m * K, K, W, n, y + m * ldy, ldy, accumulate); break;
      case 2: row_block<2>(x + m * K, K, W, n, y + m * ldy, ldy, accumulate); break;
      case 1: row_block<1>(x + m * K, K, W, n, y + m * ldy, ldy, accumulate); break;
      default: break;
    }
  }
}

}  // namespace autolm::cpu
