// autolm_prefill_gemm: one 512-row prefill projection (linear() over the thread pool, as a model's
// layer calls it) at real shapes, per weight format, against the machine's peaks, printed as JSON.
//   shapes   SmolLM2-135M's gate/up (576 → 1536) and gpt2's c_fc (768 → 3072), 512 activation rows
//   formats  float32 (sgemm), bf16 (weights stored as bfloat16, as --dtype bf16 loads them),
//            int8 (per-row scales), int4 group 32 and 64 (core/int4.h)
//   peaks    int8: a register-only vpdpbusd loop on every pool thread (64 multiply-adds each,
//            12 independent chains), when the CPU has AVX-512 VNNI; bf16: the same with vdpbf16ps
//            (32 multiply-adds each), when the CPU has AVX-512 BF16; float32: OpenBLAS sgemm at
//            1024³ split across the pool by output columns, as linear() splits it (short, so that
//            the best round on a loaded machine is an unpreempted one)
// "GEMM peak" per format (peak_fraction): float32 and bf16 against sgemm (bf16 weights are
// converted to float block by block and multiplied by sgemm, ops/linear.cc large_rows, so sgemm
// is what they can reach; the vdpbf16ps figure says what a native bf16 kernel could), int8 and
// int4 against vpdpbusd (a ceiling no real kernel reaches: it counts no loads and no epilogue).
// Each figure is the best of --reps rounds (default 7); every round runs the peaks and every
// (shape, format) once, so that a loaded machine slows them alike. Times, rates and peak
// fractions are printed as [by wall time, by CPU time per thread] (see Timing). Threads: AUTOLM_NUM_THREADS
// (default: all cores); OpenBLAS itself runs single-threaded inside the pool (init_blas).
//   autolm_prefill_gemm [--rows 512] [--reps 7]
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/int4.h"
#include "core/thread_pool.h"
#include "cpu/matmul.h"
#include "ops/linear.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Weights {
  std::vector<float> f32, scales;
  std::vector<int8_t> i8;
  std::vector<uint16_t> bf16;
  std::vector<uint8_t> q4, zeros;
  autolm::TensorView view;
};

Weights make_weights(const std::vector<float>& w, int64_t N, int64_t K, const std::string& format) {
  Weights m;
  m.view.shape = {N, K};
  if (format == "float32") {
    m.f32 = w;
    m.view.data = m.f32.data();
  } else if (format == "bf16") {  // round to nearest even, as a bf16 checkpoint holds them
    for (float v : w) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      m.bf16.push_back(uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16));
    }
    m.view.dtype = autolm::DType::kBF16;
    m.view.qdata = m.bf16.data();
  } else if (format == "int8") {  // symmetric per row, as --dtype int8 quantizes
    m.i8.resize(N * K);
    for (int64_t n = 0; n < N; ++n) {
      float amax = 0;
      for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::abs(w[n * K + k]));
      const float d = amax > 0 ? amax / 127.f : 1.f;
      m.scales.push_back(d);
      for (int64_t k = 0; k < K; ++k) m.i8[n * K + k] = int8_t(std::lrint(w[n * K + k] / d));
    }
    m.view.dtype = autolm::DType::kI8;
    m.view.qdata = m.i8.data();
    m.view.scales = m.scales.data();
  } else {  // int4-g32 / int4-g64
    const int64_t group = format == "int4-g64" ? 64 : 32;
    m.q4.assign(N * K / 2, 0);
    m.scales.resize(N * K / group);
    m.zeros.resize(N * K / group);
    for (int64_t n = 0; n < N; ++n)
      autolm::quantize_int4_row(w.data() + n * K, K, group, false, m.q4.data() + n * K / 2,
                                m.scales.data() + n * K / group, m.zeros.data() + n * K / group);
    m.view.dtype = autolm::DType::kI4;
    m.view.qdata = m.q4.data();
    m.view.scales = m.scales.data();
    m.view.zeros = m.zeros.data();
    m.view.group = group;
  }
  return m;
}

// 12 chains × 64 multiply-adds per vpdpbusd; returns multiply-adds done.
__attribute__((target("avx512f,avx512vnni"))) double vnni_loop(int64_t iters) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
  __m512i s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_epi32(s, acc[i]);
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, s);
  volatile int sink = lanes[0];  // keeps the chains live
  (void)sink;
  return double(iters) * 12 * 64;
}

// 12 chains × 32 multiply-adds per vdpbf16ps; returns multiply-adds done.
__attribute__((target("avx512f,avx512bf16"))) double bf16_loop(int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3c00);
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  volatile float sink = lanes[0];  // keeps the chains live
  (void)sink;
  return double(iters) * 12 * 32;
}

// One timed run: wall seconds, and the process's CPU seconds per pool thread (the time the threads
// were actually on a core: on a machine shared with other jobs, the wall time mostly measures the
// others; the CPU time measures the kernel, as on an idle machine, within what caches share).
struct Timing {
  double wall = 1e30, cpu = 1e30;
  void keep_best(const Timing& t) {
    wall = std::min(wall, t.wall);
    cpu = std::min(cpu, t.cpu);
  }
};

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

template <typename F>
Timing time_once(int threads, F&& f) {
  const double c0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  f();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return {wall, (process_cpu_seconds() - c0) / threads};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 512;
  int reps = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rows") == 0) rows = std::stoll(argv[i + 1]);
    else if (std::strcmp(argv[i], "--reps") == 0) reps = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--rows 512] [--reps 7]\n", argv[0]);
      return 2;
    }
  }
  if (argc % 2 == 0 || rows < 1 || reps < 1) {
    std::fprintf(stderr, "usage: %s [--rows 512] [--reps 7]\n", argv[0]);
    return 2;
  }
  autolm::init_blas();
  autolm::ThreadPool& pool = autolm::ThreadPool::global();
  const int threads = pool.size();
  const bool vnni = __builtin_cpu_supports("avx512vnni");
  const bool bf16 = __builtin_cpu_supports("avx512bf16");

  const int64_t vnni_iters = 1'000'000, P = 1024;
  std::vector<float> A(P * P, 0.5f), B(P * P, 0.25f), C(P * P);
  const struct {
    const char* name;
    int64_t K, N;
  } shapes[] = {{"SmolLM2-135M 576->1536", 576, 1536}, {"gpt2 768->3072", 768, 3072}};
  const char* formats[] = {"float32", "bf16", "int8", "int4-g32", "int4-g64"};
  constexpr size_t kShapes = std::size(shapes), kFormats = std::size(formats);
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<std::vector<float>> xs(kShapes), ys(kShapes);
  std::vector<std::vector<Weights>> ws(kShapes);
  for (size_t s = 0; s < kShapes; ++s) {
    const int64_t K = shapes[s].K, N = shapes[s].N;
    std::vector<float> w(N * K);
    for (auto& v : w) v = 0.05f * dist(rng);
    xs[s].resize(rows * K);
    for (auto& v : xs[s]) v = dist(rng);
    ys[s].resize(rows * N);
    for (const char* f : formats) ws[s].push_back(make_weights(w, N, K, f));
  }

  // Every round runs the peaks and every (shape, format) once, so that a loaded machine slows
  // them alike; each figure is the best round.
  Timing vnni_t, bf16_t, sgemm_t;
  std::vector<std::vector<Timing>> best(kShapes, std::vector<Timing>(kFormats));
  for (int r = 0; r < reps; ++r) {
    if (vnni) vnni_t.keep_best(time_once(threads, [&] { pool.run([&](int, int) { vnni_loop(vnni_iters); }); }));
    if (bf16) bf16_t.keep_best(time_once(threads, [&] { pool.run([&](int, int) { bf16_loop(vnni_iters); }); }));
    sgemm_t.keep_best(time_once(threads, [&] {
      pool.parallel_for(P, 64, [&](int64_t n0, int64_t n1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(P), int(n1 - n0), int(P), 1.f, A.data(), int(P),
                    B.data() + n0 * P, int(P), 0.f, C.data() + n0, int(P));
      });
    }));
    for (size_t s = 0; s < kShapes; ++s)
      for (size_t f = 0; f < kFormats; ++f)
        best[s][f].keep_best(time_once(threads, [&] {
          autolm::linear(xs[s].data(), rows, ws[s][f].view, {}, ys[s].data());
        }));
  }
  // Rates in multiply-adds per second over all threads: by wall time, and by CPU time per thread.
  const double vnni_macs = double(vnni_iters) * 12 * 64 * threads, sgemm_macs = double(P) * P * P;
  const double bf16_macs = double(vnni_iters) * 12 * 32 * threads;
  auto rate = [](double macs, double s) { return macs / s / 1e9; };

  std::printf("{\"threads\": %d, \"isa\": \"%s\", \"rows\": %lld, \"reps\": %d,\n", threads,
              autolm::cpu::best_kernel().isa.c_str(), (long long)rows, reps);
  std::printf(" \"peak_GMACs\": {\"vnni_int8\": [%.1f, %.1f], \"vdpbf16ps\": [%.1f, %.1f], \"sgemm_1024\": [%.1f, %.1f]},\n",
              vnni ? rate(vnni_macs, vnni_t.wall) : 0.0, vnni ? rate(vnni_macs, vnni_t.cpu) : 0.0,
              bf16 ? rate(bf16_macs, bf16_t.wall) : 0.0, bf16 ? rate(bf16_macs, bf16_t.cpu) : 0.0,
              rate(sgemm_macs, sgemm_t.wall), rate(sgemm_macs, sgemm_t.cpu));
  std::printf(" \"shapes\": [\n");
  for (size_t s = 0; s < kShapes; ++s) {
    const int64_t K = shapes[s].K, N = shapes[s].N;
    std::printf("  {\"shape\": \"%s\", \"K\": %lld, \"N\": %lld, \"formats\": {", shapes[s].name, (long long)K,
                (long long)N);
    for (size_t f = 0; f < kFormats; ++f) {
      const double macs = double(rows) * N * K;
      // float32 and bf16 against sgemm, the integer formats against vpdpbusd; by wall and by CPU time
      const bool fp = f <= 1;
      const double peak_wall = fp ? rate(sgemm_macs, sgemm_t.wall) : vnni ? rate(vnni_macs, vnni_t.wall) : 0.0;
      const double peak_cpu = fp ? rate(sgemm_macs, sgemm_t.cpu) : vnni ? rate(vnni_macs, vnni_t.cpu) : 0.0;
      const double w = rate(macs, best[s][f].wall), c = rate(macs, best[s][f].cpu);
      std::printf("%s\"%s\": {\"ms\": [%.3f, %.3f], \"GMACs\": [%.1f, %.1f], \"peak_fraction\": [%.3f, %.3f]}",
                  f ? ", " : "", formats[f], best[s][f].wall * 1e3, best[s][f].cpu * 1e3, w, c,
                  peak_wall > 0 ? w / peak_wall : 0.0, peak_cpu > 0 ? c / peak_cpu : 0.0);
    }
    std::printf("}}%s\n", s + 1 < kShapes ? "," : "");
  }
  std::printf(" ]}\n");
  return 0;
}
