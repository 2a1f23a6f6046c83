#include "models/registry.h"
namespace autolm {
std::unique_ptr<Model> make_bart_family(ModelConfig, const JsonConfig& c, std::unique_ptr<WeightStore>) {
  throw Error(ErrorKind::kUnsupported, c.source() + ": BART not implemented yet");
}
}  // namespace autolm
