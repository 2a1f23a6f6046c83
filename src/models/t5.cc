#include "models/registry.h"
namespace autolm {
std::unique_ptr<Model> make_t5(ModelConfig, const JsonConfig& c, std::unique_ptr<WeightStore>) {
  throw Error(ErrorKind::kUnsupported, c.source() + ": T5 not implemented yet");
}
}  // namespace autolm
