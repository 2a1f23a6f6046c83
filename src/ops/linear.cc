#include "ops/linear.h"

#include <cblas.h>

#include <limits>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "core/check.h"

namespace autolm {

namespace {

// Up to this many input rows (decode steps, beams, small batches) the weight is streamed once
// through the SIMD rows kernel, split across threads by output rows; above it, BLAS sgemm (float
// weights converted block by block). The rows kernel takes four weight rows × four input rows
// per block (16 FMA chains), so up to 16 rows it beats sgemm, which packs the weights at every
// call (measured on t5-small, float32: beam 4 +25 %, batch 8 +19 %). On AVX-512, float32
// weights from 8 rows on go through a broadcast kernel instead (cpu/matmul_avx512.cc: no
// horizontal sums; a batched decode step of 32 rows 2.7× faster than the 4 × 4 blocks,
// bench/prefill_gemm.cc --rows 32), which matches sgemm's rate up to 64 rows and beyond. int8 weights on a VNNI CPU
// stay in the rows kernel at any size: its int8 dot products outrun dequantization + sgemm
// (gpt2 128-token prefill 135 → 74 ms).
// (AVX2: two weight rows × four input rows, beam 4 +15 %, batch 8 +14 % over sgemm.) Without
// SIMD (the scalar reference) sgemm takes everything but single rows. int4 weights on a VNNI CPU
// stay in the rows kernel at any size too (int8 dot products on the unpacked nibbles).
int64_t small_rows_limit(const TensorView& W) {
  static const std::string isa = cpu::best_kernel().isa;
  if (W.dtype == DType::kI8 && isa == "avx512_vnni" && W.shape[1] % 64 == 0) return std::numeric_limits<int64_t>::max();
  if (W.dtype == DType::kI4 && isa == "avx512_vnni") return std::numeric_limits<int64_t>::max();
  // AVX-512 float32 from 8 rows on: the broadcast kernel (no reductions, no packing), up to 64.
  if (W.is_f32() && (isa == "avx512" || isa == "avx512_vnni")) return kLinearRowsKernelMaxRows;
  return isa == "scalar" ? 1 : 16;
}

void small_rows(const float* x, int64_t rows, const TensorView& W, float* y, bool accumulate) {
  const int64_t N = W.shape[0], K = W.shape[1];
  const cpu::RowsKernel kernel = cpu::best_kernel().rows;
  // Chunks of 16 output rows keep each thread's outputs on their own cache lines; below
  // ~32k multiply-adds per thread the work stays on the calling thread.
  const int64_t chunks = (N + 15) / 16;
  const int64_t min_chunks = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, 16 * K * rows));
  ThreadPool::global().parallel_for(chunks, min_chunks, [&](int64_t c0, int64_t c1) {
    kernel(x, rows, W, c0 * 16, std::min(N, c1 * 16), y, N, accumulate);
  });
}

void large_rows(const float* x, int64_t rows, const TensorView& W, float* y, bool accumulate) {
  const int64_t N = W.shape[0], K = W.shape[1];
  const float beta = accumulate ? 1.f : 0.f;
  // Each thread takes one contiguous slice of output rows (one sgemm, x packed once per
  // thread). Non-float32 weights are dequantized block by block inside the slice, the
  // conversion amortised over all input rows.
  constexpr int64_t kBlock = 256;
  ThreadPool::global().parallel_for(N, 64, [&](int64_t n0, int64_t n1) {
    if (W.is_f32()) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n1 - n0, K, 1.f, x, K, W.data + n0 * K, K, beta,
                  y + n0, N);
      return;
    }
    thread_local std::vector<float> block;
    block.resize(size_t(kBlock * K));
    for (int64_t b = n0; b < n1; b += kBlock) {
      const int64_t nb = std::min(kBlock, n1 - b);
      cpu::dequantize_rows(W, b, b + nb, block.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, nb, K, 1.f, x, K, block.data(), K, beta, y + b, N);
    }
  });
}

// x's columns in the weight's packed order (an act-order GPTQ matrix, TensorView::in_perm):
// xp[r, j] = x[r, in_perm[j]], once per linear, so the rows kernels see contiguous groups. (The
// sgemm path needs none: dequantize_rows writes rows in input-feature order, as copy_row does.)
const float* gather_columns(const float* x, int64_t rows, const TensorView& W) {
  if (!W.in_perm) return x;
  const int64_t K = W.shape[1];
  thread_local std::vector<float> xp;
  xp.resize(size_t(rows * K));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < K; ++j) xp[size_t(r * K + j)] = x[r * K + W.in_perm[j]];
  return xp.data();
}

void gemm_nt(const float* x, int64_t rows, const TensorView& W, const TensorView& bias, float* y, bool accumulate) {
  AUTOLM_CHECK(W.shape.size() == 2, "linear weight must be 2-D, got " + shape_str(W.shape));
  const int64_t N = W.shape[0];
  init_blas();
  if (rows <= small_rows_limit(W)) small_rows(gather_columns(x, rows, W), rows, W, y, accumulate);
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

void linear_fused(const float* x, int64_t rows, std::initializer_list<LinearOutput> outputs) {
  bool small = true;
  for (const auto& o : outputs) small = small && rows <= small_rows_limit(o.weight) && !o.weight.in_perm;
  if (!small) {  // prefill: each GEMM is large enough to fill the threads itself; act-order
                 // GPTQ matrices: each gathers the input in its own column order
    for (const auto& o : outputs) linear(x, rows, o.weight, o.bias, o.y);
    return;
  }
  init_blas();
  // Chunks of 16 output rows over all matrices, split across threads in one dispatch.
  std::vector<int64_t> first_chunk;  // small (≤ 3 entries); allocation is negligible next to the GEMVs
  int64_t chunks = 0, K = 0;
  for (const auto& o : outputs) {
    AUTOLM_CHECK(o.weight.shape.size() == 2, "linear weight must be 2-D");
    K = o.weight.shape[1];
    first_chunk.push_back(chunks);
    chunks += (o.weight.shape[0] + 15) / 16;
  }
  const cpu::RowsKernel kernel = cpu::best_kernel().rows;
  const int64_t min_chunks = std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, 16 * K * rows));
  ThreadPool::global().parallel_for(chunks, min_chunks, [&](int64_t c0, int64_t c1) {
    size_t i = 0;
    for (const auto& o : outputs) {
      const int64_t begin = first_chunk[i], end = begin + (o.weight.shape[0] + 15) / 16;
      const int64_t a = std::max(c0, begin), b = std::min(c1, end);
      if (a < b)
        kernel(x, rows, o.weight, (a - begin) * 16, std::min(o.weight.shape[0], (b - begin) * 16), o.y,
               o.weight.shape[0], false);
      ++i;
    }
  });
  for (const auto& o : outputs) {
    if (o.bias.empty()) continue;
    const int64_t N = o.weight.shape[0];
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) o.y[r * N + n] += o.bias.data[n];
  }
}

void matmul_nt(const float* a, const float* b, int64_t m, int64_t n, int64_t k, float* y) {
  init_blas();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.f, a, k, b, k, 0.f, y, n);
}

}  // namespace autolm
