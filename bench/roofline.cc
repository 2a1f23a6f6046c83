// autolm_roofline: the machine's ceilings at the benchmark's thread count (OMP_NUM_THREADS for
// the triad, OPENBLAS_NUM_THREADS for sgemm), printed as JSON.
//   triad  STREAM's a[i] = b[i] + s·c[i] over 3 × 160 MB of doubles, best of 10, bytes counted as
//          STREAM does (24 per element, no write-allocate)
//   read   the same arrays only read (sum), the access pattern of a decode step's weights
//   sgemm  OpenBLAS float32 C = A·B at 2048³, best of 5: the GEMM peak that autolm's kernels use
// --quick: best of 3 triads and 3 reads, no sgemm ("sgemm_GFLOPs": null): the per-round
// bandwidth check of bench/run.py, well under a second or two.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
      return 2;
    }
  }
  const int stream_reps = quick ? 3 : 10;
  using Clock = std::chrono::steady_clock;
  const long n = 20'000'000;
  std::vector<double> a(n), b(n), c(n);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) {
    a[i] = 1.0;
    b[i] = 2.0;
    c[i] = 0.5;
  }
  double best = 1e30;
  const double s = 3.0;
  for (int r = 0; r < stream_reps; ++r) {
    auto t0 = Clock::now();
    double* pa = a.data();
    const double* pb = b.data();
    const double* pc = c.data();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double triad_gbs = 24.0 * n / best / 1e9;

  // Read-only stream (a decode step mostly reads weights): sum over the three arrays.
  double rbest = 1e30, sum = 0;
  for (int r = 0; r < stream_reps; ++r) {
    auto t0 = Clock::now();
    double acc = 0;
    const double* pa = a.data();
    const double* pb = b.data();
    const double* pc = c.data();
#pragma omp parallel for simd schedule(static) reduction(+ : acc)
    for (long i = 0; i < n; ++i) acc += pa[i] + pb[i] + pc[i];
    rbest = std::min(rbest, std::chrono::duration<double>(Clock::now() - t0).count());
    sum += acc;
  }
  const double read_gbs = 24.0 * n / rbest / 1e9;

  if (quick) {
    std::printf("{\"triad_GBps\": %.3f, \"read_GBps\": %.3f, \"sgemm_GFLOPs\": null, \"omp_threads\": %d, \"quick\": true, \"check\": %.1f}\n",
                triad_gbs, read_gbs, omp_get_max_threads(), a[n / 2] + sum * 0);
    return 0;
  }

  const int m = 2048;
  std::vector<float> x(size_t(m) * m, 0.5f), y(size_t(m) * m, 0.25f), z(size_t(m) * m);
  double gbest = 1e30;
  for (int r = 0; r < 5; ++r) {
    auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, m, 1.0f, x.data(), m, y.data(), m, 0.0f, z.data(), m);
    gbest = std::min(gbest, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const double gflops = 2.0 * m * m * m / gbest / 1e9;
  std::printf("{\"triad_GBps\": %.3f, \"read_GBps\": %.3f, \"sgemm_GFLOPs\": %.3f, \"omp_threads\": %d, \"check\": %.1f}\n",
              triad_gbs, read_gbs, gflops, omp_get_max_threads(), a[n / 2] + z[0] + sum * 0);
  return 0;
}
