// linear(x, W) = x · Wᵀ (+ b), with W stored (out_features, in_features) exactly as HF stores it.
// Backed by the SIMD rows kernels (cpu/) for few rows and BLAS sgemm per thread slice for many;
// performance work swaps kernels here, not in model files.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/tensor.h"

namespace autolm {

// The most input rows linear() takes in one pass over a weight through the SIMD rows kernels
// (float32 on AVX-512; other formats and ISAs switch to other kernels past 16, int8 / int4 on
// VNNI never): what a batched decode step (Model::decode_batch) runs per forward pass.
inline constexpr int64_t kLinearRowsKernelMaxRows = 64;

// x: (rows, in_features) row-major; W: (out_features, in_features); bias: (out_features) or
// empty; y: (rows, out_features). y may not alias x.
void linear(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y);

// y += linear(x, W) (+ b): residual projections without a temporary.
void linear_accumulate(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y);

// Several projections of the same input in one pass over the thread pool (the q/k/v and
// gate/up projections of a layer): what fusing them into one matrix at load gives, without
// copying memory-mapped weights. Each output: y_i = linear(x, W_i) + b_i.
struct LinearOutput {
  const TensorView& weight;  // (out_features_i, in_features)
  const TensorView& bias;    // (out_features_i) or empty
  float* y;                  // (rows, out_features_i)
};
void linear_fused(const float* x, int64_t rows, std::initializer_list<LinearOutput> outputs);

// y = a · bᵀ for plain row-major matrices: a (m, k), b (n, k), y (m, n).
void matmul_nt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* y);

// Configures OpenBLAS once per process, before autolm's first BLAS call: one thread (every BLAS
// call runs inside a task of autolm's own pool; a second pool of spinning BLAS threads would
// fight it for the cores). linear(), matmul_nt() and attention() call it; anything else calling
// BLAS must too.
void init_blas();
// The OpenBLAS kernel set in use ("Haswell", "Cooperlake", …; "" for another BLAS). OpenBLAS
// picks it from the CPU's features unless OPENBLAS_CORETYPE forces one.
std::string blas_core_name();

}  // namespace autolm
