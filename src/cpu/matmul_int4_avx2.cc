// AVX2 int4 kernel (float arithmetic; compiled with -mavx2 -mfma): each chunk of 64 packed
// weights is unpacked once (one AND, one shift) and dequantized in two halves of 32 weights (four
// float vectors, one FMA each: w = q·d − z·d), each half multiplied into up to four activation rows.
#include <immintrin.h>

#include "cpu/matmul_int4.h"

namespace autolm::cpu {

namespace {

inline __m256 widen8(__m128i bytes) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)); }

// 32 nibbles (one per byte, in order) dequantized into four vectors of 8.
inline void dequantize32(__m256i q, float d, uint8_t z, __m256 w[4]) {
  const __m256 dv = _mm256_set1_ps(d), dz = _mm256_set1_ps(d * float(z));
  const __m128i a = _mm256_castsi256_si128(q), b = _mm256_extracti128_si256(q, 1);
  w[0] = _mm256_fmsub_ps(widen8(a), dv, dz);
  w[1] = _mm256_fmsub_ps(widen8(_mm_srli_si128(a, 8)), dv, dz);
  w[2] = _mm256_fmsub_ps(widen8(b), dv, dz);
  w[3] = _mm256_fmsub_ps(widen8(_mm_srli_si128(b, 8)), dv, dz);
}

inline float hsum(__m256 v) {
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_shuffle_ps(s4, s4, 1));
  return _mm_cvtss_f32(s4);
}

template <int MB>
inline void fma32(const float* x, int64_t K, int64_t k, const __m256 w[4], __m256 (*acc)[2]) {
#pragma GCC unroll 4
  for (int m = 0; m < MB; ++m) {
    const float* xm = x + m * K + k;
    acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xm), w[0], acc[m][0]);
    acc[m][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xm + 8), w[1], acc[m][1]);
    acc[m][0] = _mm256_fmadd_ps(_mm256_loadu_ps(xm + 16), w[2], acc[m][0]);
    acc[m][1] = _mm256_fmadd_ps(_mm256_loadu_ps(xm + 24), w[3], acc[m][1]);
  }
}

// Weight row n against MB activation rows: two FMA chains per activation row.
template <int MB>
void row_block(const float* x, int64_t K, const TensorView& W, int64_t n, float* y, int64_t ldy, bool accumulate) {
  const int64_t G = W.group, groups = K / G;
  const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
  const float* d = W.scales + n * groups;
  const uint8_t* z = W.zeros + n * groups;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc[MB][2];
  for (int m = 0; m < MB; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  __m256 w[4];
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
    dequantize32(_mm256_and_si256(b, mask), d[k / G], z[k / G], w);  // weights k .. k + 31
    fma32<MB>(x, K, k, w, acc);
    const int64_t g = (k + 32) / G;
    dequantize32(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask), d[g], z[g], w);  // k + 32 .. k + 63
    fma32<MB>(x, K, k + 32, w, acc);
  }
  if (k < K) {  // the last 32 weights: 16 bytes, low nibbles then high nibbles
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
    dequantize32(q, d[k / G], z[k / G], w);
    fma32<MB>(x, K, k, w, acc);
  }
  for (int m = 0; m < MB; ++m) {
    const float v = hsum(_mm256_add_ps(acc[m][0], acc[m][1]));
    float& out = y[m * ldy + n];
    out = accumulate ? out + v : v;
  }
}

}  // namespace

void rows_int4_avx2(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
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
