// ModelConfig's typed access to config.json (include/autolm/model.h).
#include "autolm/model.h"

namespace autolm {

std::optional<int64_t> ModelConfig::int_value(std::string_view key) const {
  if (!raw.is_object()) return std::nullopt;
  auto it = raw.find(key);
  if (it == raw.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

}  // namespace autolm
