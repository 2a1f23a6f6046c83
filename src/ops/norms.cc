#include "ops/norms.h"

#include <cmath>

namespace autolm {

void rms_norm(const float* x, int64_t rows, int64_t dim, const TensorView& w, float eps, float* y, bool unit_offset) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double(xr[i]) * xr[i];
    const float inv = 1.f / std::sqrt(float(ss / dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * inv * (w.empty() ? 1.f : unit_offset ? 1.f + w.data[i] : w.data[i]);
  }
}

void layer_norm(const float* x, int64_t rows, int64_t dim, const TensorView& w, const TensorView& b, float eps,
                float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    double mean = 0;
    for (int64_t i = 0; i < dim; ++i) mean += xr[i];
    mean /= dim;
    double var = 0;
    for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= dim;
    const float inv = 1.f / std::sqrt(float(var) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = float(xr[i] - mean) * inv * (w.empty() ? 1.f : w.data[i]) + (b.empty() ? 0.f : b.data[i]);
  }
}

}  // namespace autolm
