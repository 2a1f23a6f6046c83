// Internal: how a tokenizer.json decoder maps one token to bytes (Tokenizer::token_bytes()).
#pragma once

#include <string>
#include <string_view>

#include "tokenizer/backend.h"

namespace autolm::tokenizer_detail {

struct TokenByteForm {
  bool byte_level = false;     // a ByteLevel decoder: each char is one byte (GPT-2 table)
  bool byte_fallback = false;  // a ByteFallback decoder: <0xNN> is byte NN
  std::string space_marker;    // Metaspace (or Replace ▁ → " "): the marker standing for a space
};
TokenByteForm token_byte_form(const nlohmann::json& decoder);
std::string token_to_bytes(std::string_view token, const TokenByteForm& form);

}  // namespace autolm::tokenizer_detail
