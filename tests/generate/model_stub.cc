// Until autolm_models exists, the unit tests need the out-of-line members of the Model interface
// (Model::encode anchors its vtable). Compiled only when autolm_models is absent.
#include <stdexcept>

#include "autolm/model.h"

namespace autolm {
void Model::encode(std::span<const int32_t>, std::span<const int32_t>, int, DecodeState&) const {
  throw std::runtime_error("Model::encode: not an encoder-decoder model");
}
}  // namespace autolm
