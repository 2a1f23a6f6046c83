// Every SIMD kernel variant against the scalar reference, for every weight dtype, odd sizes
// included (tails), plus the int8 quantizer and the ops-level dispatch (small and large rows).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <cstring>

#include "cpu/activation.h"
#include "cpu/matmul.h"
#include "io/safetensors.h"
#include "ops/activations.h"
#include "ops/linear.h"

namespace autolm {
namespace {

struct Matrix {
  std::vector<float> f32;
  std::vector<uint16_t> half;
  std::vector<int8_t> i8;
  std::vector<float> scales;
  TensorView view;
};

uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return uint16_t((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

Matrix make_matrix(DType type, int64_t N, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  Matrix m;
  m.view.shape = {N, K};
  m.view.dtype = type;
  m.f32.resize(N * K);
  for (auto& v : m.f32) v = dist(rng);
  switch (type) {
    case DType::kF32:
      m.view.data = m.f32.data();
      break;
    case DType::kBF16:
      for (float v : m.f32) m.half.push_back(to_bf16(v));
      m.view.qdata = m.half.data();
      break;
    case DType::kF16:
      for (float v : m.f32) {
        _Float16 h = static_cast<_Float16>(v);
        uint16_t bits;
        std::memcpy(&bits, &h, 2);
        m.half.push_back(bits);
      }
      m.view.qdata = m.half.data();
      break;
    case DType::kI8:
      for (int64_t n = 0; n < N; ++n) m.scales.push_back(0.01f + 0.001f * n);
      for (int64_t i = 0; i < N * K; ++i) m.i8.push_back(int8_t(int(dist(rng) * 40) % 127));
      m.view.qdata = m.i8.data();
      m.view.scales = m.scales.data();
      break;
    case DType::kI4:  // test_int4.cc builds its own (quantized, with group scales)
      ADD_FAILURE() << "make_matrix: use make_int4";
      break;
  }
  return m;
}

TEST(Kernels, EveryVariantMatchesScalarReference) {
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.f, 1.f);
  ASSERT_GE(cpu::available_kernels().size(), 1u);
  for (DType type : {DType::kF32, DType::kBF16, DType::kF16, DType::kI8}) {
    for (auto [N, K, M] : {std::tuple{7, 5, 1}, {33, 64, 1}, {64, 129, 3}, {100, 1000, 8}, {17, 4096, 2}, {37, 70, 5}, {22, 48, 16}, {9, 128, 40}, {6, 4096, 70}, {50, 300, 33}, {25, 96, 64}}) {
      Matrix w = make_matrix(type, N, K, rng);
      std::vector<float> x(M * K);
      for (auto& v : x) v = dist(rng);
      std::vector<float> ref(M * N, 0.5f);
      cpu::rows_scalar(x.data(), M, w.view, 0, N, ref.data(), N, true);
      for (const auto& variant : cpu::available_kernels()) {
        std::vector<float> got(M * N, 0.5f);
        // Two calls over disjoint row ranges, as the threaded dispatcher makes them.
        variant.rows(x.data(), M, w.view, 0, N / 2, got.data(), N, true);
        variant.rows(x.data(), M, w.view, N / 2, N, got.data(), N, true);
        // The VNNI int8 path rounds activations per block of 32 to ½ step (amax_block / 254):
        // its error is at most Σ_k amax_block(k)/254 · |w[n,k]|·scale[n], computed here exactly.
        const bool approx = !variant.exact && type == DType::kI8;
        for (int64_t i = 0; i < M * N; ++i) {
          float tol = 1e-4f * (1.f + std::sqrt(float(K)));
          if (approx) {
            const int64_t m = i / N, n = i % N;
            double bound = 0;
            for (int64_t b = 0; b < K; b += 32) {
              float amax = 0;
              for (int64_t k = b; k < std::min<int64_t>(K, b + 32); ++k) amax = std::max(amax, std::abs(x[m * K + k]));
              for (int64_t k = b; k < std::min<int64_t>(K, b + 32); ++k) bound += amax / 254.0 * std::abs(w.i8[n * K + k]) * w.scales[n];
            }
            tol += float(bound);
          }
          ASSERT_NEAR(got[i], ref[i], tol)
              << variant.isa << " dtype " << dtype_name(type) << " N=" << N << " K=" << K << " M=" << M << " i=" << i;
        }
      }
    }
  }
}

TEST(Kernels, HalfPrecisionIsConvertedExactly) {
  // bf16 → f32 is exact: a bf16 weight times 1.0 must give back the rounded weight itself.
  std::mt19937 rng(1);
  Matrix w = make_matrix(DType::kBF16, 16, 16, rng);
  std::vector<float> x(16, 0.f);
  x[3] = 1.f;
  for (const auto& variant : cpu::available_kernels()) {
    std::vector<float> y(16);
    variant.rows(x.data(), 1, w.view, 0, 16, y.data(), 16, false);
    for (int n = 0; n < 16; ++n) EXPECT_EQ(y[n], bf16_to_f32(w.half[n * 16 + 3])) << variant.isa;
  }
}

TEST(Kernels, LinearDispatchSmallAndLargeRowsAgree) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  const int64_t N = 96, K = 80;
  for (DType type : {DType::kF32, DType::kBF16, DType::kI8}) {
    Matrix w = make_matrix(type, N, K, rng);
    // ≤ 16 rows (float32 on AVX-512: ≤ 64): SIMD rows kernels; above: BLAS sgemm
    for (int64_t M : {1, 16, 17, 40, 64, 65, 100}) {
      std::vector<float> x(M * K), ref(M * N), got(M * N);
      for (auto& v : x) v = dist(rng);
      cpu::rows_scalar(x.data(), M, w.view, 0, N, ref.data(), N, false);
      linear(x.data(), M, w.view, {}, got.data());
      for (int64_t i = 0; i < M * N; ++i) ASSERT_NEAR(got[i], ref[i], 1e-3f) << dtype_name(type) << " M=" << M;
    }
  }
}

TEST(Kernels, Int8QuantizationRoundTrip) {
  // adopt_matrix in int8 mode quantizes per row: |w - q*scale| ≤ scale / 2.
  WeightStore store({}, WeightFormat::kInt8);
  std::vector<float> values = {0.f, 1.f, -2.f, 0.5f, 0.f, 0.f, 0.f, 0.f, 3.f, 3.f, -3.f, 1e-3f};
  TensorView q = store.adopt_matrix(values, {3, 4});
  ASSERT_EQ(q.dtype, DType::kI8);
  EXPECT_FLOAT_EQ(q.scales[0], 2.f / 127.f);
  EXPECT_FLOAT_EQ(q.scales[1], 1.f);  // all-zero row
  std::vector<float> row(4);
  for (int r = 0; r < 3; ++r) {
    copy_row(q, r, row.data());
    for (int c = 0; c < 4; ++c) EXPECT_LE(std::abs(row[c] - values[r * 4 + c]), q.scales[r] / 2 + 1e-7f);
  }
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

TEST(Kernels, LinearFusedEqualsSeparateLinears) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.f, 1.f);
  const int64_t K = 96;
  Matrix a = make_matrix(DType::kF32, 64, K, rng), b = make_matrix(DType::kBF16, 40, K, rng),
         c = make_matrix(DType::kI8, 17, K, rng);
  std::vector<float> bias(40);
  for (auto& v : bias) v = dist(rng);
  TensorView bias_view{bias.data(), {40}};
  for (int64_t M : {1, 3, 20}) {
    std::vector<float> x(M * K);
    for (auto& v : x) v = dist(rng);
    std::vector<float> ya(M * 64), yb(M * 40), yc(M * 17), ra(M * 64), rb(M * 40), rc(M * 17);
    const TensorView none;
    linear_fused(x.data(), M, {{a.view, none, ya.data()}, {b.view, bias_view, yb.data()}, {c.view, none, yc.data()}});
    linear(x.data(), M, a.view, none, ra.data());
    linear(x.data(), M, b.view, bias_view, rb.data());
    linear(x.data(), M, c.view, none, rc.data());
    for (size_t i = 0; i < ya.size(); ++i) ASSERT_FLOAT_EQ(ya[i], ra[i]);
    for (size_t i = 0; i < yb.size(); ++i) ASSERT_FLOAT_EQ(yb[i], rb[i]);
    for (size_t i = 0; i < yc.size(); ++i) ASSERT_FLOAT_EQ(yc[i], rc[i]);
  }
}

// Each ISA's activation kernel against the <cmath> definitions, over normal values, the
// tails where exp saturates (±100), zero and odd lengths; gated and in-place forms.
TEST(Kernels, ActivationsMatchCmathReference) {
  std::vector<float> xs;
  for (float v = -100.f; v <= 100.f; v += 0.37f) xs.push_back(v);
  for (float v = -8.f; v <= 8.f; v += 0.0013f) xs.push_back(v);
  xs.insert(xs.end(), {0.f, -0.f, 1e-8f, -1e-8f, 88.f, -88.f, 87.5f, -87.5f});
  std::vector<std::pair<std::string, cpu::ActivationKernel>> variants = {{"scalar", cpu::activation_scalar}};
  for (const auto& k : cpu::available_kernels()) {
    if (k.isa == "avx2") variants.push_back({"avx2", cpu::activation_avx2});
    if (k.isa == "avx512") variants.push_back({"avx512", cpu::activation_avx512});
  }
  const std::pair<Activation, cpu::ActKind> acts[] = {{Activation::kRelu, cpu::ActKind::kRelu},
                                                      {Activation::kSilu, cpu::ActKind::kSilu},
                                                      {Activation::kGelu, cpu::ActKind::kGelu},
                                                      {Activation::kGeluTanh, cpu::ActKind::kGeluTanh}};
  for (const auto& [name, kernel] : variants)
    for (const auto& [act, kind] : acts) {
      std::vector<float> y = xs;
      kernel(kind, nullptr, y.data(), int64_t(y.size()));
      std::vector<float> ones(xs.size(), 1.5f);
      kernel(kind, xs.data(), ones.data(), int64_t(ones.size()));  // gated: 1.5 · act(x)
      for (size_t i = 0; i < xs.size(); ++i) {
        const float ref = activation_reference(act, xs[i]);
        const float tol = 2e-6f * std::max(1.f, std::fabs(ref));
        ASSERT_NEAR(y[i], ref, tol) << name << " act " << int(kind) << " x=" << xs[i];
        ASSERT_NEAR(ones[i], 1.5f * ref, 1.5f * tol) << name << " gated act " << int(kind) << " x=" << xs[i];
        ASSERT_FALSE(std::isnan(y[i]));
      }
    }
  // The dispatched entry points use one of them.
  std::vector<float> v = {-1.f, 0.5f, 3.f};
  activate(Activation::kSilu, v.data(), 3);
  EXPECT_NEAR(v[1], activation_reference(Activation::kSilu, 0.5f), 1e-6f);
}

// Each ISA's softmax against a double-precision reference: random rows of several lengths
// (tails), masked (-inf) entries that must come out exactly 0, and a fully masked row.
TEST(Kernels, SoftmaxMatchesDoubleReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 4.f);
  std::vector<std::pair<std::string, cpu::SoftmaxKernel>> variants = {{"scalar", cpu::softmax_scalar}};
  for (const auto& k : cpu::available_kernels()) {
    if (k.isa == "avx2") variants.push_back({"avx2", cpu::softmax_avx2});
    if (k.isa == "avx512") variants.push_back({"avx512", cpu::softmax_avx512});
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (const auto& [name, kernel] : variants)
    for (int n : {1, 7, 16, 33, 250}) {
      std::vector<float> x(n);
      for (auto& v : x) v = dist(rng);
      if (n > 3) x[1] = x[n - 1] = -inf;
      std::vector<float> y = x;
      kernel(y.data(), n);
      double mx = -inf, sum = 0;
      for (float v : x) mx = std::max(mx, double(v));
      for (float v : x) sum += std::exp(double(v) - mx);
      for (int i = 0; i < n; ++i) {
        const double ref = std::exp(double(x[i]) - mx) / sum;
        if (x[i] == -inf) EXPECT_EQ(y[i], 0.f) << name << " n=" << n << " i=" << i;
        else EXPECT_NEAR(y[i], ref, 1e-6 * std::max(1.0, ref * 10)) << name << " n=" << n << " i=" << i;
      }
      std::vector<float> masked(n, -inf);
      kernel(masked.data(), n);
      for (float v : masked) EXPECT_EQ(v, 0.f) << name << " fully masked, n=" << n;
    }
}

}  // namespace
}  // namespace autolm
