// Group-wise 4-bit weights (DType::kI4): the storage layout every int4 kernel reads, its scalar
// definition, and the quantizer used at load (--dtype int4).
//
// A weight row of K values (K a multiple of the group size G: 32, or a multiple of 64 — --dtype int4
// uses 32 or 64, GPTQ checkpoints often 128) holds:
//   - K / 2 bytes of unsigned nibbles q ∈ [0, 15], in chunks of 64 weights (32 bytes): byte i of
//     a chunk holds weight i in its low nibble and weight i + 32 in its high nibble, so one
//     32-byte load split into low and high nibbles gives the chunk's 64 weights in order (the
//     SIMD kernels' unpacking: one AND, one shift). A last chunk of 32 weights (K % 64 == 32)
//     packs weight i low and weight i + 16 high in its 16 bytes.
//   - per group g: a float32 scale d[g] and an integer zero point z[g] ∈ [0, 15] (uint8), and
//       w[k] = d[g] · (q[k] − z[g]),  g = k / G.
// A (N, K) matrix stores its rows one after another: qdata (N, K / 2) bytes, scales (N, K / G)
// floats, zeros (N, K / G) bytes. Zero points are integers as GPTQ / AWQ store them, so their
// checkpoints map onto this layout without rounding; sums factor as
//   Σ x[k]·w[k] = Σ_g d[g] · (Σ_{k∈g} x[k]·q[k] − z[g] · Σ_{k∈g} x[k]),
// which is what the kernels compute (integer or float inner sums, one correction per group).
#pragma once

#include <cstdint>
#include <string>

namespace autolm {

// The nibble of weight k in a packed row of K weights.
inline int int4_nibble(const uint8_t* row, int64_t k, int64_t K) {
  const int64_t chunk = k / 64 * 64, i = k - chunk;
  const uint8_t* bytes = row + chunk / 2;
  if (chunk + 64 <= K) return i < 32 ? bytes[i] & 0xF : bytes[i - 32] >> 4;
  return i < 16 ? bytes[i] & 0xF : bytes[i - 16] >> 4;  // the 32-weight last chunk
}

// Writes nibble q (0..15) of weight k into a packed row of K weights (bytes zeroed beforehand).
inline void int4_set_nibble(uint8_t* row, int64_t k, int64_t K, int q) {
  const int64_t chunk = k / 64 * 64, i = k - chunk;
  uint8_t* bytes = row + chunk / 2;
  const int64_t half = chunk + 64 <= K ? 32 : 16;
  if (i < half) bytes[i] = uint8_t((bytes[i] & 0xF0) | q);
  else bytes[i - half] = uint8_t((bytes[i - half] & 0x0F) | (q << 4));
}

// Packs a row of K nibbles (one per byte, 0..15, in weight order; K a multiple of 32) into the
// layout above: the pre-quantized loaders' (io/quantized.h) last step.
inline void int4_pack_row(const uint8_t* nibbles, int64_t K, uint8_t* row) {
  int64_t k = 0;
  for (; k + 64 <= K; k += 64)
    for (int64_t i = 0; i < 32; ++i) row[k / 2 + i] = uint8_t(nibbles[k + i] | (nibbles[k + 32 + i] << 4));
  if (k < K)  // the 32-weight last chunk
    for (int64_t i = 0; i < 16; ++i) row[k / 2 + i] = uint8_t(nibbles[k + i] | (nibbles[k + 16 + i] << 4));
}

// Quantizes one row of K float weights (finite; K % group == 0) to the layout above: per group,
// the range [min(w, 0), max(w, 0)] split into 15 steps, d = (max − min) / 15, z = round(−min / d),
// q = clamp(round(w / d) + z, 0, 15) — asymmetric, as GPTQ's quantizer finds its parameters
// (symmetric: d = 2·max|w| / 15, z = 8). An all-zero group gets d = 1, z = 0.
void quantize_int4_row(const float* w, int64_t K, int64_t group, bool symmetric, uint8_t* q, float* scales,
                       uint8_t* zeros);

}  // namespace autolm
