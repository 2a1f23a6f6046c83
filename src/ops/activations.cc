#include "ops/activations.h"

#include <cmath>

#include "autolm/error.h"
#include "cpu/activation.h"

namespace autolm {

Activation parse_activation(const std::string& name, const std::string& source) {
  if (name == "relu") return Activation::kRelu;
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  throw Error(ErrorKind::kUnsupported,
              source + ": unsupported activation \"" + name + "\" (supported: relu, silu, swish, gelu, gelu_new, gelu_pytorch_tanh)");
}

static cpu::ActKind kind(Activation act) {
  switch (act) {
    case Activation::kRelu: return cpu::ActKind::kRelu;
    case Activation::kSilu: return cpu::ActKind::kSilu;
    case Activation::kGelu: return cpu::ActKind::kGelu;
    case Activation::kGeluTanh: return cpu::ActKind::kGeluTanh;
  }
  return cpu::ActKind::kRelu;
}

// Reference definitions (activations.py), for tests: the kernels are checked against these.
float activation_reference(Activation act, float v) {
  switch (act) {
    case Activation::kRelu: return v > 0.f ? v : 0.f;
    case Activation::kSilu: return v / (1.f + std::exp(-v));
    case Activation::kGelu: return 0.5f * v * (1.f + std::erf(v * 0.70710678118654752f));
    case Activation::kGeluTanh:
      // NewGELUActivation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
      return 0.5f * v * (1.f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
  return v;
}

void activate(Activation act, float* x, int64_t n) { cpu::best_activation()(kind(act), nullptr, x, n); }

void activate_gated(Activation act, const float* gate, float* x, int64_t n) {
  cpu::best_activation()(kind(act), gate, x, n);
}

}  // namespace autolm
