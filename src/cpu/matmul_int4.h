// int4 weight kernels (DType::kI4, layout in core/int4.h), one per ISA, reached through the
// rows_* entry points of cpu/matmul.h when W.dtype is kI4. The float variants dequantize each
// 64-weight chunk in registers (d · q − d · z, one FMA per 16 weights) and share it between up
// to four activation rows; the VNNI variant quantizes activations per block of 32 like the int8
// path and runs vpdpbusd on the unpacked nibbles, subtracting each group's zero point once per
// group (Σ x·d·(q − z) = d·(Σ x·q − z·Σ x)); with several activation rows (prefill) it unpacks four
// weight rows once into a per-thread buffer (q − z as signed bytes) and runs 4 × 4 blocks of them
// against the activation rows, as the int8 VNNI kernel does.
#pragma once

#include "core/tensor.h"

namespace autolm::cpu {

void rows_int4_avx2(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                    bool accumulate);
void rows_int4_avx512(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                      bool accumulate);
void rows_int4_vnni(const float* x, int64_t M, const TensorView& W, int64_t n0, int64_t n1, float* y, int64_t ldy,
                    bool accumulate);

}  // namespace autolm::cpu
