// Activation functions by their HF config names (hidden_act, activation_function, …).
#pragma once

#include <cstdint>
#include <string>

namespace autolm {

enum class Activation { kRelu, kSilu, kGelu, kGeluTanh };

// "relu", "silu"/"swish", "gelu", "gelu_new"/"gelu_pytorch_tanh"/"gelu_fast";
// throws Error naming `source` (e.g. "config.json: hidden_act") for anything else.
Activation parse_activation(const std::string& name, const std::string& source);

// SIMD kernels (cpu/activation.h): within ~1e-6 relative of activation_reference.
void activate(Activation act, float* x, int64_t n);
// x[i] = act(gate[i]) * x[i]: gated MLPs (SwiGLU, GeGLU).
void activate_gated(Activation act, const float* gate, float* x, int64_t n);

// The definition with <cmath> (std::exp, std::erf, std::tanh), as transformers writes it.
float activation_reference(Activation act, float v);

}  // namespace autolm
