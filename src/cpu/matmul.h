// Matrix × weight-rows kernels for small batches (decode): y[m, n] (+)= Σ_k x[m, k] · W[n, k]
// for output rows n ∈ [n0, n1), with W in float32, bfloat16, float16 (converted in registers,
// float32 accumulation) or int8 with per-row scales. One scalar reference and SIMD variants,
// selected at run time; tests check every variant against the reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace autolm::cpu {

// x: (M, K) row-major; W: (N, K); y: rows of stride ldy. accumulate: y += instead of y =.
using RowsKernel = void (*)(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y,
                            int64_t ldy, bool accumulate);

void rows_scalar(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool accumulate);
void rows_avx2(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
               bool accumulate);
void rows_avx512(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool accumulate);
// int8 weights × activations quantized per block of 32 (VNNI); other dtypes as rows_avx512.
// Not bit-exact with the reference: activation rounding adds ≤ ½ step per block.
void rows_avx512_vnni(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                      bool accumulate);

struct KernelVariant {
  std::string isa;  // "scalar" | "avx2" | "avx512" | "avx512_vnni"
  RowsKernel rows;
  bool exact = true;  // false: int8 path quantizes activations (compare with a tolerance)
};
// Variants this CPU can run, best last.
const std::vector<KernelVariant>& available_kernels();
// The best variant (AUTOLM_ISA=scalar|avx2|avx512 in the environment caps it, for testing).
const KernelVariant& best_kernel();

// Dequantizes rows [n0, n1) of W to float32: out (n1 - n0, K).
void dequantize_rows(const TensorView& W, int64_t n0, int64_t n1, float* out);

}  // namespace autolm::cpu
