#include "core/int4.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace autolm {

namespace {

// Round half to even for |v| ≤ 2^22 (adding and subtracting 1.5·2^23), as nearbyint does in the
// default rounding mode, without a libm call per weight.
inline float round_even(float v) { return (v + 12582912.f) - 12582912.f; }

}  // namespace

void quantize_int4_row(const float* w, int64_t K, int64_t group, bool symmetric, uint8_t* q, float* scales,
                       uint8_t* zeros) {
  std::memset(q, 0, size_t(K / 2));
  for (int64_t g = 0; g < K / group; ++g) {
    const float* v = w + g * group;
    float lo = 0.f, hi = 0.f;
    for (int64_t i = 0; i < group; ++i) {
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
    }
    if (symmetric) {
      hi = std::max(-lo, hi);
      lo = -hi;
    }
    // (hi − lo) / 15 in double: hi − lo may overflow float for weights near FLT_MAX. The range
    // holds 0, so d is 0 only for an all-zero group.
    float d = float((double(hi) - double(lo)) / 15.0);
    int z = symmetric ? 8 : 0;
    if (d == 0.f) d = 1.f;
    else if (!symmetric) z = int(std::clamp(round_even(float(-double(lo) / double(d))), 0.f, 15.f));
    scales[g] = d;
    zeros[g] = uint8_t(z);
    // Division, not a reciprocal: d may be subnormal (1 / d = inf).
    for (int64_t i = 0; i < group; ++i) {
      const float r = std::clamp(float(double(v[i]) / double(d)), -16.f, 16.f);
      const int nib = std::clamp(int(round_even(r)) + z, 0, 15);
      int4_set_nibble(q, g * group + i, K, nib);
    }
  }
}

}  // namespace autolm
