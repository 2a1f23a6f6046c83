// Numerically stable softmax in place over n elements (SIMD, cpu/activation.h); a row of all
// -inf (fully masked) gives zeros.
#pragma once

#include <cstdint>

namespace autolm {

void softmax(float* x, int64_t n);

}  // namespace autolm
