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

ActivationKernel best_activation() {
  static const ActivationKernel best = [] {
    const std::string& isa = best_kernel().isa;
    if (isa == "scalar") return activation_scalar;
    if (isa == "avx2") return activation_avx2;
    return activation_avx512;
  }();
  return best;
}

SoftmaxKernel best_softmax() {
  static const SoftmaxKernel best = [] {
    const std::string& isa = best_kernel().isa;
    if (isa == "scalar") return softmax_scalar;
    if (isa == "avx2") return softmax_avx2;
    return softmax_avx512;
  }();
  return best;
}

}  // namespace autolm::cpu
