// Structured output: JSON-schema (and any-JSON-object) constraints for generate(), enforced by
// masking every token that cannot continue a valid text (docs/GENERATION.md "Constrained
// decoding"). Pass the result as GenerateHooks::constraint.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autolm/export.h"
#include "autolm/json.h"

#include "autolm/generation.h"

namespace autolm {

// A tokenizer's vocabulary as bytes (Tokenizer::token_bytes(): id → the bytes it stands for,
// nullopt for special / added tokens, which a constraint never allows) with the indexes the mask
// needs (a byte trie, per-UTF-8-state tables of tokens that are plain string text). Building it
// takes a moment on a 150k vocabulary: build once per tokenizer and share (immutable).
class TokenVocabulary;
AUTOLM_API std::shared_ptr<const TokenVocabulary> make_token_vocabulary(const std::vector<std::optional<std::string>>& token_bytes);

// Output that is one JSON value valid against `schema` (OpenAI response_format "json_schema").
// Unsupported keywords are Error(kUnsupported) and malformed schemas Error(kInvalidInput), both
// naming the keyword and its place in the schema.
AUTOLM_API std::shared_ptr<const LogitsConstraint> json_schema_constraint(const OrderedJson& schema,
                                                               std::shared_ptr<const TokenVocabulary> vocabulary);
// Output that is one JSON object (response_format "json_object").
AUTOLM_API std::shared_ptr<const LogitsConstraint> json_object_constraint(std::shared_ptr<const TokenVocabulary> vocabulary);

}  // namespace autolm
