// Numerically stable softmax in place over n elements.
#pragma once

#include <cstdint>

namespace autolm {

void softmax(float* x, int64_t n);

}  // namespace autolm
