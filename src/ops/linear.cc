#include "ops/linear.h"

#include <cblas.h>

namespace autolm {

namespace {

void gemm_nt(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y, float beta) {
  AUTOLM_CHECK(W.shape.size() == 2, "linear weight must be 2-D, got " + shape_str(W.shape));
  const int64_t out = W.shape[0], in = W.shape[1];
  if (!bias.empty()) {
    AUTOLM_CHECK(bias.numel() == out, "bias size mismatch");
    for (int64_t r = 0; r < rows; ++r) {
      float* yr = y + r * out;
      if (beta == 0.f)
        for (int64_t o = 0; o < out; ++o) yr[o] = bias.data[o];
      else
        for (int64_t o = 0; o < out; ++o) yr[o] += bias.data[o];
    }
    beta = 1.f;
  }
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.f, W.data, in, x, 1, beta, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.f, x, in, W.data, in, beta, y, out);
  }
}

}  // namespace

void linear(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y) {
  gemm_nt(x, rows, W, bias, y, 0.f);
}

void linear_accumulate(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y) {
  gemm_nt(x, rows, W, bias, y, 1.f);
}

void matmul_nt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, a, k, b, k, 0.f, y, n);
}

}  // namespace autolm
