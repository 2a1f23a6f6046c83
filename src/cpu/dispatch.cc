// Run-time choice of the kernel variant from the CPU's features (and AUTOLM_ISA for tests).
#include <cstdlib>
#include <string>

#include "cpu/activation.h"
#include "cpu/matmul.h"

namespace autolm::cpu {

const std::vector<KernelVariant>& available_kernels() {
  static const std::vector<KernelVariant> variants = [] {
    std::vector<KernelVariant> v = {{"scalar", rows_scalar}};
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) v.push_back({"avx2", rows_avx2});
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
      v.push_back({"avx512", rows_avx512});
      if (__builtin_cpu_supports("avx512vnni")) v.push_back({"avx512_vnni", rows_avx512_vnni, false});
    }
    return v;
  }();
  return variants;
}

const KernelVariant& best_kernel() {
  static const KernelVariant& best = [&]() -> const KernelVariant& {
    const auto& v = available_kernels();
    if (const char* cap = std::getenv("AUTOLM_ISA"))
      for (const auto& k : v)
        if (k.isa == cap) return k;
    return v.back();
  }();
  return best;
}

namespace {

// The variant of a kernel family matching best_kernel()'s ISA (avx512_vnni runs the AVX-512 one).
template <typename Fn>
Fn for_best_isa(Fn scalar, Fn avx2, Fn avx512) {
  const std::string& isa = best_kernel().isa;
  if (isa == "scalar") return scalar;
  if (isa == "avx2") return avx2;
  return avx512;
}

}  // namespace

ActivationKernel best_activation() {
  static const ActivationKernel best = for_best_isa(activation_scalar, activation_avx2, activation_avx512);
  return best;
}

SoftmaxKernel best_softmax() {
  static const SoftmaxKernel best = for_best_isa(softmax_scalar, softmax_avx2, softmax_avx512);
  return best;
}

}  // namespace autolm::cpu
