// Body of the activation kernels, included once per ISA by activation_<isa>.cc with
// AUTOLM_ACT_NAME set to the function's name. Plain loops without branches or calls, so that
// -O3 vectorizes them for the ISA the including file is compiled for.
#include <bit>
#include <cstdint>

#include "cpu/activation.h"

namespace autolm::cpu {

namespace {

// e^x for float32: x = n·ln2 + r (|r| ≤ ln2/2), e^r by Cephes' degree-6 polynomial, 2^n from
// the exponent bits. Clamped to the float range: e^-88 underflows to ~0, e^88.7 stays finite.
inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;  // round to nearest
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(e);
}

// erf(x) = sign(x)·(1 − (a1·t + … + a5·t⁵)·e^{−x²}), t = 1 / (1 + p·|x|).
inline float erf_approx(float x) {
  const float ax = x < 0.f ? -x : x;
  const float t = 1.f / (1.f + 0.3275911f * ax);
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  y = 1.f - y * t * exp_approx(-ax * ax);
  return x < 0.f ? -y : y;
}

inline float silu(float v) { return v / (1.f + exp_approx(-v)); }
inline float gelu(float v) { return 0.5f * v * (1.f + erf_approx(v * 0.70710678118654752f)); }
// 0.5·v·(1 + tanh(u)) = v · sigmoid(2u), u = √(2/π)(v + 0.044715v³) (NewGELUActivation).
inline float gelu_tanh(float v) {
  const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
  return v / (1.f + exp_approx(-2.f * u));
}
inline float relu(float v) { return v > 0.f ? v : 0.f; }

template <float (*F)(float)>
void apply(const float* gate, float* x, int64_t n) {
  if (gate) {
    for (int64_t i = 0; i < n; ++i) x[i] *= F(gate[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = F(x[i]);
  }
}

}  // namespace

void AUTOLM_ACT_NAME(ActKind act, const float* gate, float* x, int64_t n) {
  switch (act) {
    case ActKind::kRelu: return apply<relu>(gate, x, n);
    case ActKind::kSilu: return apply<silu>(gate, x, n);
    case ActKind::kGelu: return apply<gelu>(gate, x, n);
    case ActKind::kGeluTanh: return apply<gelu_tanh>(gate, x, n);
  }
}

}  // namespace autolm::cpu
