// Elementwise activations and softmax over float32 arrays, written as branch-free loops that the compiler
// vectorizes; the same source is compiled for baseline x86-64, AVX2 and AVX-512 and picked at
// run time like the matmul kernels. exp is a range-reduced polynomial (≤ 2 ulp), erf the
// Abramowitz–Stegun 7.1.26 form (≤ 1.5e-7 absolute); tests compare with <cmath>.
#pragma once

#include <cstdint>

namespace autolm::cpu {

enum class ActKind { kRelu, kSilu, kGelu, kGeluTanh };

// gate == nullptr: x[i] = act(x[i]); otherwise x[i] = act(gate[i]) · x[i] (gated MLPs).
using ActivationKernel = void (*)(ActKind act, const float* gate, float* x, int64_t n);

void activation_scalar(ActKind act, const float* gate, float* x, int64_t n);
void activation_avx2(ActKind act, const float* gate, float* x, int64_t n);
void activation_avx512(ActKind act, const float* gate, float* x, int64_t n);

// Numerically stable softmax in place over n elements (a row of all -inf gives zeros).
using SoftmaxKernel = void (*)(float* x, int64_t n);
void softmax_scalar(float* x, int64_t n);
void softmax_avx2(float* x, int64_t n);
void softmax_avx512(float* x, int64_t n);

// The variants matching best_kernel()'s ISA (AUTOLM_ISA caps them too).
ActivationKernel best_activation();
SoftmaxKernel best_softmax();

}  // namespace autolm::cpu
