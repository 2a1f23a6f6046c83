// Body of the activation kernels, included once per ISA by activation_<isa>.cc with
// AUTOLM_ACT_NAME / AUTOLM_SOFTMAX_NAME set to the functions' names. Plain loops without branches or calls, so that
// -O3 vectorizes them for the ISA the including file is compiled for.
#include <bit>
#include <cstdint>

#include "cpu/activation.h"

namespace autolm::cpu {

namespace {

// e^x for float32: x = n·ln2 + r (|r| ≤ ln2/2), e^r by Cephes' degree-6 polynomial, 2^n from
// the exponent bits. Below -87.3 (e.g. -inf) the result is 0; above 88.7 it stays finite.
inline float exp_approx(float x_in) {
  const float x = x_in < -87.3f ? -87.3f : (x_in > 88.7f ? 88.7f : x_in);
  const float shifted = x * 1.44269504088896341f + 12582912.f;  // 1.5·2^23 + round(x·log2 e)
  const float n = shifted - 12582912.f;                           // round to nearest
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  // 2^n from the bits of `shifted` (its low mantissa bits hold n): no float→int conversion, so
  // a NaN input (NaN weights, a NaN eps) cannot reach undefined behaviour; NaN stays NaN below.
  const uint32_t e = (std::bit_cast<uint32_t>(shifted) - 0x4B400000u + 127u) << 23;
  return x_in < -87.3f ? 0.f : p * std::bit_cast<float>(e);  // e^-inf = 0 (masked scores)
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

void AUTOLM_SOFTMAX_NAME(float* x, int64_t n) {
  float mx = -__builtin_inff();
  for (int64_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  if (mx == -__builtin_inff()) {  // everything masked
    for (int64_t i = 0; i < n; ++i) x[i] = 0.f;
    return;
  }
  for (int64_t i = 0; i < n; ++i) x[i] = exp_approx(x[i] - mx);
  float part[16] = {};  // 16 partial sums: a vectorizable reduction
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) part[j] += x[i + j];
  float sum = 0.f;
  for (; i < n; ++i) sum += x[i];
  for (int j = 0; j < 16; ++j) sum += part[j];
  const float inv = 1.f / sum;
  for (int64_t k = 0; k < n; ++k) x[k] *= inv;
}

}  // namespace autolm::cpu
