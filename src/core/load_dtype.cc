// Dtype names (include/autolm/dtype.h).
#include <string>

#include "autolm/dtype.h"
#include "autolm/error.h"

namespace autolm {

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::kAuto: return "auto";
    case Dtype::kFloat32: return "float32";
    case Dtype::kInt8: return "int8";
    case Dtype::kInt4: return "int4";
    case Dtype::kInt4G64: return "int4-g64";
  }
  return "auto";
}

Dtype parse_dtype(std::string_view name, std::string_view what) {
  for (Dtype d : {Dtype::kAuto, Dtype::kFloat32, Dtype::kInt8, Dtype::kInt4, Dtype::kInt4G64})
    if (name == dtype_name(d)) return d;
  throw Error(ErrorKind::kInvalidInput,
              std::string(what) + ": unknown value \"" + std::string(name) + "\" (auto, float32, int8, int4 or int4-g64)");
}

}  // namespace autolm
