// The values of Model::encode's attention_mask: 0 padding, 1 a token, 2 a token with global
// attention — the merged mask of LEDEncoder._merge_to_attention_mask (attention_mask *
// (global_attention_mask + 1)), which generate() builds from GenerateOptions::global_attention_mask.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "autolm/error.h"

namespace autolm {

// The global-attention flags (inputs*src_len) of `mask`, empty when it marks none. Any value
// outside 0…2 is refused, and 2 unless the model has global attention (`supported`), naming
// model_type.
inline std::vector<uint8_t> global_attention_tokens(std::span<const int32_t> mask, bool supported,
                                                    const std::string& model_type) {
  std::vector<uint8_t> global;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (mask[i] >= 0 && mask[i] <= 1) continue;
    if (mask[i] != 2)
      throw Error(ErrorKind::kInvalidInput, "encode: attention_mask value " + std::to_string(mask[i]) + " at index " +
                                                std::to_string(i) + " (0 padding, 1 token, 2 global attention)");
    if (!supported)
      throw Error(ErrorKind::kInvalidInput, "encode: attention_mask marks token " + std::to_string(i) +
                                                " for global attention (2), which model_type \"" + model_type +
                                                "\" does not have (LED's global_attention_mask)");
    if (global.empty()) global.assign(mask.size(), 0);
    global[i] = 1;
  }
  return global;
}

}  // namespace autolm
