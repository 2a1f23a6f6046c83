// Grammars assembled from pieces beyond one JSON schema: literal text around JSON values,
// objects with fixed keys, alternatives and repetitions. The server builds forced tool calls in a
// chat template's format from them (src/server/tool_grammar.cc); grammar_constraint() turns the
// result into a LogitsConstraint like json_schema_constraint() does.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "autolm/structured_output.h"
#include "generate/grammar/json_schema.h"

namespace autolm::grammar {

// Each method adds a node (or a compiled schema's nodes) and returns the index to refer to it.
class GrammarBuilder {
 public:
  // Most nodes all pieces together may add (SchemaLimits::kMaxNodes is per schema).
  static constexpr size_t kMaxNodes = 4 * SchemaLimits::kMaxNodes;

  // A value valid against `schema` (compile_json_schema: its errors pass through).
  int32_t schema(const nlohmann::ordered_json& schema);
  // Any JSON object.
  int32_t any_object();
  // Exactly `bytes` (non-empty), with no whitespace before it.
  int32_t text(std::string bytes);
  // One of these JSON texts (compact: "\"get_weather\"").
  int32_t literal(std::vector<std::string> json_texts);
  // An object with exactly these keys, in this order, each required: {"name": …, "arguments": …}.
  int32_t object(const std::vector<std::pair<std::string, int32_t>>& properties);
  // [item, …] with min_items..max_items items.
  int32_t array(int32_t items, uint32_t min_items, uint32_t max_items);
  int32_t any_of(std::vector<int32_t> alternatives);
  // The items one after the other, the whole repeated min_repeat..max_repeat times (kUnbounded:
  // no maximum), repetitions separated by `separator` (a text node, or kNoNode).
  int32_t sequence(std::vector<int32_t> items, int32_t separator = kNoNode, uint32_t min_repeat = 1,
                   uint32_t max_repeat = 1);

  // The grammar whose output is `root` (single_spaces: Grammar::single_spaces).
  Grammar finish(int32_t root, bool single_spaces = false) &&;

 private:
  int32_t add(Node n);
  Grammar g_;
};

// Output of the grammar, as json_schema_constraint() enforces a schema's.
std::shared_ptr<const LogitsConstraint> grammar_constraint(Grammar grammar, std::shared_ptr<const TokenVocabulary> vocabulary);

}  // namespace autolm::grammar
