// int4 weights (core/int4.h): the packing layout, the quantizer's error bound, every SIMD kernel
// variant against the scalar reference (group 32 and 64, odd N / M, the 32-weight last chunk),
// the ops-level dispatch, row slices, and WeightStore's refusals (in_features, non-finite).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "core/int4.h"
#include "cpu/matmul.h"
#include "io/safetensors.h"
#include "nn/weight_source.h"
#include "ops/linear.h"

namespace autolm {
namespace {

struct Int4Matrix {
  std::vector<float> f32;  // the original weights
  std::vector<uint8_t> q, zeros;
  std::vector<float> scales;
  TensorView view;
};

Int4Matrix make_int4(int64_t N, int64_t K, int64_t group, bool symmetric, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  Int4Matrix m;
  m.f32.resize(N * K);
  for (auto& v : m.f32) v = dist(rng) + 0.3f;  // off-centre: zero points other than 8
  m.q.resize(N * K / 2);
  m.scales.resize(N * K / group);
  m.zeros.resize(N * K / group);
  for (int64_t n = 0; n < N; ++n)
    quantize_int4_row(m.f32.data() + n * K, K, group, symmetric, m.q.data() + n * K / 2,
                      m.scales.data() + n * K / group, m.zeros.data() + n * K / group);
  m.view.shape = {N, K};
  m.view.dtype = DType::kI4;
  m.view.qdata = m.q.data();
  m.view.scales = m.scales.data();
  m.view.zeros = m.zeros.data();
  m.view.group = group;
  return m;
}

// Bound on the VNNI kernel's error for output (m, n): activations rounded per block of 32 to ½ step
// (amax / 254), so the error is at most Σ_k amax_block(k) / 254 · |w[n, k]| with w dequantized.
double activation_rounding_bound(const std::vector<float>& x, int64_t m, const TensorView& w, int64_t n) {
  const int64_t K = w.shape[1];
  std::vector<float> wrow(K);
  copy_row(w, n, wrow.data());
  double bound = 0;
  for (int64_t b = 0; b < K; b += 32) {
    float amax = 0;
    for (int64_t k = b; k < b + 32; ++k) amax = std::max(amax, std::abs(x[m * K + k]));
    for (int64_t k = b; k < b + 32; ++k) bound += amax / 254.0 * std::abs(wrow[k]);
  }
  return bound;
}

TEST(Int4, PackingLayout) {
  // A full chunk: byte i = weight i (low) | weight i + 32 (high); a 32-weight last chunk:
  // byte i = weight i | weight i + 16.
  const int64_t K = 96;
  std::vector<uint8_t> row(K / 2, 0);
  for (int64_t k = 0; k < K; ++k) int4_set_nibble(row.data(), k, K, int(k % 16));
  for (int64_t k = 0; k < K; ++k) EXPECT_EQ(int4_nibble(row.data(), k, K), int(k % 16)) << k;
  EXPECT_EQ(row[0], 0 | (32 % 16) << 4);
  EXPECT_EQ(row[5], 5 | (37 % 16) << 4);
  EXPECT_EQ(row[32 + 3], (64 + 3) % 16 | ((64 + 19) % 16) << 4);
}

TEST(Int4, QuantizerErrorIsAtMostHalfAStep) {
  std::mt19937 rng(3);
  for (int64_t group : {32, 64})
    for (bool symmetric : {false, true}) {
      Int4Matrix m = make_int4(5, 128, group, symmetric, rng);
      std::vector<float> row(128);
      for (int64_t n = 0; n < 5; ++n) {
        copy_row(m.view, n, row.data());
        for (int64_t k = 0; k < 128; ++k) {
          const float d = m.scales[n * (128 / group) + k / group];
          ASSERT_LE(std::abs(row[k] - m.f32[n * 128 + k]), d / 2 * (1 + 1e-5f))
              << "group " << group << " symmetric " << symmetric << " n=" << n << " k=" << k;
        }
      }
      if (symmetric) {
        for (uint8_t z : m.zeros) EXPECT_EQ(z, 8);
      }
    }
  // An all-zero group dequantizes to exact zeros; a one-signed group keeps 0 in range.
  std::vector<float> w(64, 0.f);
  for (int k = 32; k < 64; ++k) w[k] = 1.f + k;
  std::vector<uint8_t> q(32), z(2);
  std::vector<float> d(2);
  quantize_int4_row(w.data(), 64, 32, false, q.data(), d.data(), z.data());
  EXPECT_EQ(d[0], 1.f);
  EXPECT_EQ(z[0], 0);
  for (int k = 0; k < 32; ++k) EXPECT_EQ(int4_nibble(q.data(), k, 64), 0);
  EXPECT_EQ(z[1], 0);
  EXPECT_FLOAT_EQ(d[1], 64.f / 15.f);
}

// One kernel variant over M activation rows of x, its outputs split at output row `split` (as
// the threaded dispatcher splits them), against the scalar reference `ref` (both accumulated onto
// `init`): within float rounding, plus the activation rounding bound where the variant rounds.
void expect_variant_matches(const cpu::KernelVariant& variant, const std::vector<float>& x, int64_t M,
                            const Int4Matrix& w, int64_t split, float init, const std::vector<float>& ref,
                            int64_t group) {
  const int64_t N = w.view.shape[0], K = w.view.shape[1];
  std::vector<float> got(M * N, init);
  variant.rows(x.data(), M, w.view, 0, split, got.data(), N, true);
  variant.rows(x.data(), M, w.view, split, N, got.data(), N, true);
  for (int64_t i = 0; i < M * N; ++i) {
    const int64_t m = i / N, n = i % N;
    double tol = 1e-4 * (1 + std::sqrt(double(K))) * (1 + std::abs(ref[i]));
    if (!variant.exact) tol += activation_rounding_bound(x, m, w.view, n);
    ASSERT_NEAR(got[i], ref[i], tol) << variant.isa << " group " << group << " N=" << N << " K=" << K << " M=" << M
                                     << " i=" << i;
  }
}

TEST(Int4, EveryVariantMatchesScalarReference) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (int64_t group : {32, 64, 128})  // 128: GPTQ's usual group size
    for (auto [N, K, M] : {std::tuple{7, 64, 1}, {33, 128, 1}, {64, 192, 3}, {17, 4096, 2}, {37, 320, 5},
                           {22, 1024, 16}, {96, 160, 1}, {9, 128, 40}, {6, 2048, 70}, {5, 96, 1}, {19, 2080, 6}}) {
      if (K % group != 0) continue;
      Int4Matrix w = make_int4(N, K, group, false, rng);
      std::vector<float> x(M * K);
      for (auto& v : x) v = dist(rng);
      std::vector<float> ref(M * N, 0.5f);
      cpu::rows_scalar(x.data(), M, w.view, 0, N, ref.data(), N, true);
      for (const auto& variant : cpu::available_kernels()) {
        expect_variant_matches(variant, x, M, w, N / 2, 0.5f, ref, group);
        if (HasFatalFailure()) return;
      }
    }
}

// Prefill-sized products (many activation rows): the weight-stationary blocks of the VNNI kernel
// (4 weight rows × 4 activation rows, remainders of 1-3 on both sides, the 32-weight last chunk)
// against the reference, on every ISA; and each row's result independent of the rows around it
// (the same row alone among 3 and among 33 activation rows gives the same bits).
TEST(Int4, PrefillRowCountsMatchReference) {
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.f, 1.f);
  for (int64_t group : {32, 64})
    for (auto [N, K] : {std::tuple{13, 192}, {10, 576}, {9, 160}}) {
      if (K % group != 0) continue;
      Int4Matrix w = make_int4(N, K, group, false, rng);
      std::vector<float> x(33 * K);
      for (auto& v : x) v = dist(rng);
      for (int64_t M : {1, 3, 5, 17, 33}) {
        std::vector<float> ref(M * N, -0.25f);
        cpu::rows_scalar(x.data(), M, w.view, 0, N, ref.data(), N, true);
        for (const auto& variant : cpu::available_kernels()) {
          expect_variant_matches(variant, x, M, w, 5, -0.25f, ref, group);  // slices not on a block of 4
          if (HasFatalFailure()) return;
        }
      }
      for (const auto& variant : cpu::available_kernels()) {
        std::vector<float> three(3 * N), many(33 * N);
        variant.rows(x.data() + 30 * K, 3, w.view, 0, N, three.data(), N, false);  // rows 30-32
        variant.rows(x.data(), 33, w.view, 0, N, many.data(), N, false);
        for (int64_t i = 0; i < 3 * N; ++i) ASSERT_EQ(three[i], many[30 * N + i]) << variant.isa << " i=" << i;
      }
    }
}

TEST(Int4, LinearDispatchAndRowSlices) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  const int64_t N = 96, K = 160;
  Int4Matrix w = make_int4(N, K, 32, false, rng);
  for (int64_t M : {1, 16, 17, 40}) {  // ≤ 16 rows: SIMD rows kernel; above: sgemm (or VNNI rows)
    std::vector<float> x(M * K), ref(M * N), got(M * N);
    for (auto& v : x) v = dist(rng);
    cpu::rows_scalar(x.data(), M, w.view, 0, N, ref.data(), N, false);
    linear(x.data(), M, w.view, {}, got.data());
    for (int64_t i = 0; i < M * N; ++i) {
      double tol = 1e-3 * (1 + std::abs(ref[i]));
      if (!cpu::best_kernel().exact) tol += activation_rounding_bound(x, i / N, w.view, i % N);
      ASSERT_NEAR(got[i], ref[i], tol) << "M=" << M << " i=" << i;
    }
  }
  // Rows [40, 70) as a view (fused q/k/v split) dequantize to the same rows.
  TensorView part = weight_rows(w.view, 40, 30);
  std::vector<float> a(K), b(K);
  for (int64_t r = 0; r < 30; ++r) {
    copy_row(part, r, a.data());
    copy_row(w.view, 40 + r, b.data());
    ASSERT_EQ(a, b) << r;
  }
}

TEST(Int4, WeightStoreQuantizesAndRefuses) {
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> values(4 * 128);
  for (auto& v : values) v = dist(rng);
  for (auto [format, group] : {std::pair{WeightFormat::kInt4, 32}, {WeightFormat::kInt4G64, 64}}) {
    WeightStore store({}, format);
    TensorView q = store.adopt_matrix(values, {4, 128});
    ASSERT_EQ(q.dtype, DType::kI4);
    EXPECT_EQ(q.group, group);
    std::vector<float> row(128);
    copy_row(q, 2, row.data());
    for (int k = 0; k < 128; ++k) EXPECT_LE(std::abs(row[k] - values[2 * 128 + k]), q.scales[2 * (128 / group) + k / group]);
  }
  // in_features not a multiple of the group: refused naming the tensor and the flag.
  try {
    WeightStore({}, WeightFormat::kInt4).adopt_matrix(std::vector<float>(2 * 40, 1.f), {2, 40}, "fc.weight");
    FAIL() << "K = 40 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(WeightStore({}, WeightFormat::kInt4G64).adopt_matrix(std::vector<float>(2 * 96, 1.f), {2, 96}), Error);
  std::vector<float> bad(2 * 64, 1.f);
  bad[70] = std::numeric_limits<float>::quiet_NaN();
  try {
    WeightStore({}, WeightFormat::kInt4).adopt_matrix(bad, {2, 64}, "w");
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 6]"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_weight_format("int4"), WeightFormat::kInt4);
  EXPECT_EQ(parse_weight_format("int4-g64"), WeightFormat::kInt4G64);
  EXPECT_THROW(parse_weight_format("int4-g128"), Error);
}

}  // namespace
}  // namespace autolm
