// AVX-512 VNNI int4 kernel (compiled with -mavx512vnni; used only when the CPU has it).
// Activations are quantized to int8 per block of 32 (scale amax / 127, as the int8 path and
// llama.cpp's Q8_0 do); each 64-weight chunk is unpacked to 64 unsigned bytes (one AND, one
// shift, one insert) and vpdpbusd multiplies them with the signed activation bytes: 16 lanes of
// 4 products, lanes 0-7 the chunk's first 32 weights, 8-15 its last 32. Each lane is scaled by
// its weight group's d and its activation block's scale; the zero points come off once per group:
//   Σ x·w = Σ_g d_g · (sx · Σ xq·q − z_g · Σ_g x̂),  Σ_g x̂ = Σ over the group of sx·xq.
// That is decode (one activation row), which streams the packed weights, unpacking in registers.
// Several rows (prefill, beams, batches) go weight-stationary as the int8 kernel: four weight rows
// are unpacked once into a per-thread buffer, zero points applied (signed bytes q − z, a scale
// and an int32 bias per lane: see UnpackedRows), and reused by every block of four activation
// rows (stored + 128, unsigned): 4 × 4 vpdpbusd per 64 weights, each with one scale multiply and
// one FMA, no zero-point pass. Both are exact in int32; they differ in float rounding only.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "cpu/matmul_int4.h"

namespace autolm::cpu {

namespace {

constexpr int kBlock = 32;

struct QuantizedRow {
  std::vector<uint8_t> q;         // (K) round(x / sx) as signed bytes, or + 128 as unsigned (offset)
  std::vector<float> lane_scale;  // (K / 4) the block's sx, once per int32 lane
  std::vector<float> group_sum;   // (K / group) Σ sx·q over each weight group (not with offset)
};

// offset: q + 128 (vpdpbusd's unsigned operand, for the weight-stationary path, whose weights
// carry their zero points); else q itself and the group sums that the zero points multiply.
void quantize_row(const float* x, int64_t K, int64_t group, bool offset, QuantizedRow& r) {
  r.q.resize(K);
  r.lane_scale.resize(K / 4);
  if (!offset) r.group_sum.assign(K / group, 0.f);
  const __m512 sign_bit = _mm512_set1_ps(-0.f);
  const __m128i flip = _mm_set1_epi8(offset ? char(0x80) : 0);  // q ^ 0x80 = q + 128 as a byte
  for (int64_t b = 0; b < K; b += kBlock) {
    const __m512 lo = _mm512_loadu_ps(x + b), hi = _mm512_loadu_ps(x + b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign_bit, lo), _mm512_andnot_ps(sign_bit, hi)));
    const float scale = amax / 127.f;
    const __m512 inv = _mm512_set1_ps(amax > 0.f ? 127.f / amax : 0.f);
    const __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inv)), qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inv));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.q.data() + b), _mm_xor_si128(_mm512_cvtepi32_epi8(qlo), flip));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r.q.data() + b + 16), _mm_xor_si128(_mm512_cvtepi32_epi8(qhi), flip));
    _mm256_storeu_ps(r.lane_scale.data() + b / 4, _mm256_set1_ps(scale));
    if (!offset) r.group_sum[b / group] += scale * float(_mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi)));
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

// The weight group scale of each int32 lane of chunk k (64 weights): d[k / G] throughout, or with
// groups of 32, d of the first 32 weights in lanes 0-7 and of the last 32 in lanes 8-15.
inline __m512 chunk_scale(const float* d, int64_t k, int64_t G) {
  return G >= 64 ? _mm512_set1_ps(d[k / G]) : _mm512_insertf32x8(_mm512_set1_ps(d[k / G]), _mm256_set1_ps(d[k / G + 1]), 1);
}

// Decode: weight row n against one activation row r, unpacked in registers, two chains along k.
void decode_row(const QuantizedRow& r, const TensorView& W, int64_t K, int64_t n, float* y, bool accumulate) {
  const int64_t G = W.group, groups = K / G;
  const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
  const float* d = W.scales + n * groups;
  const uint8_t* z = W.zeros + n * groups;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(row + K + k / 2), _MM_HINT_T0);  // two rows ahead
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(b, mask)),
                                         _mm256_and_si256(_mm256_srli_epi16(b, 4), mask), 1);
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, _mm512_loadu_si512(r.q.data() + k));
    const __m512 scale = _mm512_mul_ps(chunk_scale(d, k, G), _mm512_loadu_ps(r.lane_scale.data() + k / 4));
    acc[(k / 64) & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[(k / 64) & 1]);
  }
  if (k < K) {  // the last 32 weights (one group of 32): 16 bytes, low nibbles then high nibbles
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
    const __m256i dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q,
                                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.q.data() + k)));
    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(d[k / G]), _mm256_loadu_ps(r.lane_scale.data() + k / 4));
    acc[0] = _mm512_add_ps(acc[0], _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), scale)));
  }
  const float v = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1])) - zero_correction(d, z, r.group_sum.data(), groups);
  y[n] = accumulate ? y[n] + v : v;
}

// Four (or fewer) weight rows unpacked for the weight-stationary path, zero points applied:
// w[j] (K) the signed bytes q − z ∈ [−15, 15] in weight order, d[j] (K / 4) the group scale of each
// int32 lane (4 weights), bias[j] (K / 4) −128 · Σ (q − z) over each lane's 4 weights. Against
// activations stored as xq + 128 (unsigned), vpdpbusd started from bias gives
//   Σ (xq + 128)·(q − z) − 128 · Σ (q − z) = Σ xq·(q − z)
// exactly, in int32: no zero-point pass and no activation sums.
struct UnpackedRows {
  std::vector<int8_t> w[4];
  std::vector<float> d[4];
  std::vector<int32_t> bias[4];
};

void unpack_row(const TensorView& W, int64_t K, int64_t n, int8_t* w, float* lane_d, int32_t* bias) {
  const int64_t G = W.group;
  const uint8_t* row = static_cast<const uint8_t*>(W.qdata) + n * (K / 2);
  const float* d = W.scales + n * (K / G);
  const uint8_t* z = W.zeros + n * (K / G);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {  // low nibbles: weights k..k+31, high: k+32..k+63
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k / 2));
    const __m256i lo = _mm256_sub_epi8(_mm256_and_si256(b, mask), _mm256_set1_epi8(char(z[k / G])));
    const __m256i hi = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(b, 4), mask), _mm256_set1_epi8(char(z[(k + 32) / G])));
    const __m512i wk = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    _mm512_storeu_si512(w + k, wk);
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(char(0x80)), wk);  // 128 · Σ
    _mm512_storeu_si512(bias + k / 4, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
  }
  if (k < K) {  // the 32-weight last chunk (one group of 32): low nibbles k..k+15, high k+16..k+31
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2));
    const __m128i m4 = _mm_set1_epi8(0x0F), zk = _mm_set1_epi8(char(z[k / G]));
    const __m256i wk = _mm256_set_m128i(_mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(b, 4), m4), zk),
                                        _mm_sub_epi8(_mm_and_si128(b, m4), zk));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(w + k), wk);
    const __m256i sum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(0x80)), wk);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bias + k / 4), _mm256_sub_epi32(_mm256_setzero_si256(), sum));
  }
  for (int64_t l = 0; l < K / 4; ++l) lane_d[l] = d[l * 4 / G];
}

// NB unpacked weight rows (n .. n + NB) × MB activation rows (offset): each 64 weights and each
// 64 activation bytes loaded once per block, NB · MB accumulators, one horizontal sum each.
template <int NB, int MB>
void stationary_block(const QuantizedRow* rows, const UnpackedRows& u, int64_t K, int64_t n, float* y, int64_t ldy,
                      bool accumulate) {
  __m512 acc[NB][MB];
  for (int j = 0; j < NB; ++j)
    for (int m = 0; m < MB; ++m) acc[j][m] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 64 <= K; k += 64) {
    __m512i w[NB];
#pragma GCC unroll 4
    for (int j = 0; j < NB; ++j) w[j] = _mm512_loadu_si512(u.w[j].data() + k);
#pragma GCC unroll 4
    for (int m = 0; m < MB; ++m) {
      const __m512i a = _mm512_loadu_si512(rows[m].q.data() + k);
      const __m512 sx = _mm512_loadu_ps(rows[m].lane_scale.data() + k / 4);
#pragma GCC unroll 4
      for (int j = 0; j < NB; ++j) {
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_loadu_si512(u.bias[j].data() + k / 4), a, w[j]);
        const __m512 scale = _mm512_mul_ps(_mm512_loadu_ps(u.d[j].data() + k / 4), sx);
        acc[j][m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, acc[j][m]);
      }
    }
  }
  if (k < K) {  // the last 32 weights
    for (int m = 0; m < MB; ++m) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[m].q.data() + k));
      const __m256 sx = _mm256_loadu_ps(rows[m].lane_scale.data() + k / 4);
      for (int j = 0; j < NB; ++j) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.w[j].data() + k));
        const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u.bias[j].data() + k / 4));
        const __m256i dot = _mm256_dpbusd_epi32(bias, a, w);
        const __m256 scale = _mm256_mul_ps(_mm256_loadu_ps(u.d[j].data() + k / 4), sx);
        acc[j][m] = _mm512_add_ps(acc[j][m], _mm512_zextps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(dot), scale)));
      }
    }
  }
  for (int m = 0; m < MB; ++m)
    for (int j = 0; j < NB; ++j) {
      const float v = _mm512_reduce_add_ps(acc[j][m]);
      float& out = y[m * ldy + n + j];
      out = accumulate ? out + v : v;
    }
}

template <int NB>
void stationary_blocks(const QuantizedRow* rows, int64_t M, const UnpackedRows& u, int64_t K, int64_t n, float* y,
                       int64_t ldy, bool accumulate) {
  int64_t m = 0;
  for (; m + 4 <= M; m += 4) stationary_block<NB, 4>(rows + m, u, K, n, y + m * ldy, ldy, accumulate);
  switch (M - m) {
    case 3: stationary_block<NB, 3>(rows + m, u, K, n, y + m * ldy, ldy, accumulate); break;
    case 2: stationary_block<NB, 2>(rows + m, u, K, n, y + m * ldy, ldy, accumulate); break;
    case 1: stationary_block<NB, 1>(rows + m, u, K, n, y + m * ldy, ldy, accumulate); break;
    default: break;
  }
}

}  // namespace

void rows_int4_vnni(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                    bool accumulate) {
  const int64_t K = W.shape[1];
  thread_local std::vector<QuantizedRow> rows;
  if (rows.size() < size_t(M)) rows.resize(M);
  const bool stationary = M > 1;
  for (int64_t m = 0; m < M; ++m) quantize_row(x + m * K, K, W.group, stationary, rows[m]);
  if (!stationary) {  // decode: stream the packed weights
    for (int64_t n = n0; n < n1; ++n) decode_row(rows[0], W, K, n, y, accumulate);
    return;
  }
  thread_local UnpackedRows u;
  for (auto& w : u.w) w.resize(K);
  for (auto& d : u.d) d.resize(K / 4);
  for (auto& b : u.bias) b.resize(K / 4);
  // Activation rows in chunks of ~256 KB (L2), as the int8 kernel does; per chunk, four weight
  // rows at a time are unpacked and run against every block of four activation rows.
  const int64_t chunk = std::max<int64_t>(4, (int64_t(256) << 10) / K / 4 * 4);
  for (int64_t m0 = 0; m0 < M; m0 += chunk) {
    const int64_t mc = std::min(chunk, M - m0);
    const QuantizedRow* r = rows.data() + m0;
    float* yc = y + m0 * ldy;
    int64_t n = n0;
    for (; n + 4 <= n1; n += 4) {
      for (int j = 0; j < 4; ++j) unpack_row(W, K, n + j, u.w[j].data(), u.d[j].data(), u.bias[j].data());
      stationary_blocks<4>(r, mc, u, K, n, yc, ldy, accumulate);
    }
    for (; n < n1; ++n) {
      unpack_row(W, K, n, u.w[0].data(), u.d[0].data(), u.bias[0].data());
      stationary_blocks<1>(r, mc, u, K, n, yc, ldy, accumulate);
    }
  }
}

}  // namespace autolm::cpu
