#include "ops/linear.h"

#include <cblas.h>
#include <omp.h>

#include <vector>

#include "cpu/matmul.h"

namespace autolm {

namespace {

// Up to this many input rows (decode steps, beams, small batches) the weight is streamed once
// through the SIMD rows kernel, split across threads by output rows; above it, BLAS sgemm.
constexpr int64_t kSmallRows = 16;

void small_rows(const float* x, int64_t rows, const TensorView& W, float* y, bool accumulate) {
  const int64_t N = W.shape[0], K = W.shape[1];
  const cpu::RowsKernel kernel = cpu::best_kernel().rows;
  const bool parallel = N * K * rows >= (int64_t(1) << 15);
#pragma omp parallel if (parallel)
  {
    const int threads = omp_get_num_threads(), t = omp_get_thread_num();
    // Chunks of 16 rows keep each thread's outputs on their own cache lines.
    const int64_t chunks = (N + 15) / 16;
    const int64_t c0 = chunks * t / threads, c1 = chunks * (t + 1) / threads;
    const int64_t n0 = c0 * 16, n1 = std::min(N, c1 * 16);
    if (n0 < n1) kernel(x, rows, W, n0, n1, y, N, accumulate);
  }
}

void large_rows(const float* x, int64_t rows, const TensorView& W, float* y, bool accumulate) {
  const int64_t N = W.shape[0], K = W.shape[1];
  const float beta = accumulate ? 1.f : 0.f;
  if (W.is_f32()) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.f, x, K, W.data, K, beta, y, N);
    return;
  }
  // Quantized or half-precision weights: dequantize a block of rows, then one sgemm per block;
  // the conversion is amortised over all input rows.
  constexpr int64_t kBlock = 256;
  thread_local std::vector<float> block;
  block.resize(size_t(std::min(kBlock, N) * K));
  for (int64_t n0 = 0; n0 < N; n0 += kBlock) {
    const int64_t nb = std::min(kBlock, N - n0);
    cpu::dequantize_rows(W, n0, n0 + nb, block.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nb, K, 1.f, x, K, block.data(), K, beta, y + n0, N);
  }
}

void gemm_nt(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y, bool accumulate) {
  AUTOLM_CHECK(W.shape.size() == 2, "linear weight must be 2-D, got " + shape_str(W.shape));
  const int64_t N = W.shape[0];
  if (rows <= kSmallRows) small_rows(x, rows, W, y, accumulate);
  else large_rows(x, rows, W, y, accumulate);
  if (!bias.empty()) {
    AUTOLM_CHECK(bias.numel() == N && bias.is_f32(), "bias size mismatch");
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < N; ++o) y[r * N + o] += bias.data[o];
  }
}

}  // namespace

void linear(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y) {
  gemm_nt(x, rows, W, bias, y, false);
}

void linear_accumulate(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y) {
  gemm_nt(x, rows, W, bias, y, true);
}

void matmul_nt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, a, k, b, k, 0.f, y, n);
}

}  // namespace autolm
