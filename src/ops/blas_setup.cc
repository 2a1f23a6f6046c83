// OpenBLAS set-up for autolm: single-threaded inside autolm's own pool.
#include <cblas.h>
#include <dlfcn.h>

#include <string>

#include "ops/linear.h"

namespace autolm {

void init_blas() {
  static const bool once = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)once;
}

std::string blas_core_name() {
  // openblas_get_corename is OpenBLAS-only: looked up so that another BLAS still links.
  using CoreNameFn = char* (*)();
  const auto name = reinterpret_cast<CoreNameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return name ? std::string(name()) : std::string();
}

}  // namespace autolm
