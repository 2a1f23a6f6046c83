// JSON schema → grammar: the node graph the byte matcher (matcher.h) walks. Covers the subset
// structured-output APIs use (OpenAI response_format, pydantic / zod schemas); anything that
// would constrain the output in a way the grammar cannot enforce is refused, naming the keyword
// and where it sits (docs/GENERATION.md "Constrained decoding").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace autolm::grammar {

enum class NodeKind : uint8_t {
  kObject,   // {"k": v, ...}: properties in schema order, then additional ones
  kArray,    // [v, ...]
  kString,   // "..."
  kNumber,   // JSON number
  kInteger,  // JSON number without fraction or exponent
  kLiteral,  // one of a set of JSON texts (enum, const, true/false, null)
  kAnyOf,    // any of the alternatives (anyOf, oneOf, type lists)
  // Beyond JSON values (grammar/builder.h: tool calls in a chat template's format):
  kText,      // exactly these bytes (no whitespace around them)
  kSequence,  // its items one after the other, the whole repeated [min_items, max_items] times
};

inline constexpr uint32_t kUnbounded = UINT32_MAX;
inline constexpr int32_t kNoNode = -1;

struct Property {
  std::string key_json;  // the key as JSON text, quotes included: "\"name\""
  int32_t node = kNoNode;
  bool required = false;
};

struct Node {
  NodeKind kind = NodeKind::kAnyOf;
  // kObject: properties appear in this order (optional ones may be skipped); keys past them
  // follow `additional` (kNoNode: none allowed).
  std::vector<Property> properties;
  std::vector<uint32_t> next_required;  // [i] = index of the first required property >= i (or size)
  int32_t additional = kNoNode;
  // kArray
  int32_t items = kNoNode;
  uint32_t min_items = 0, max_items = kUnbounded;
  // kString: length in code points, an escape sequence counting as one.
  uint32_t min_length = 0, max_length = kUnbounded;
  // kLiteral: compact JSON texts, sorted bytewise, distinct.
  std::vector<std::string> literals;
  // kAnyOf
  std::vector<int32_t> alternatives;
  // kText: the bytes (non-empty).
  std::string text;
  // kSequence: the items (text or value nodes); repetitions are separated by `separator` (a
  // kText node, or kNoNode) and counted by min_items / max_items.
  std::vector<int32_t> sequence;
  int32_t separator = kNoNode;
};

struct Grammar {
  std::vector<Node> nodes;
  int32_t root = kNoNode;
  // Whitespace between JSON tokens: false: a newline and indentation (matcher.cc); true: at most
  // one space (`{"a": 1, "b": [2, 3]}` or compact), as tool-call templates write JSON.
  bool single_spaces = false;
};

// Bounds on what a (possibly hostile) schema may compile into.
struct SchemaLimits {
  static constexpr size_t kMaxNodes = 10000;
  static constexpr size_t kMaxLiteralBytes = 1 << 20;  // enum / const texts, summed
  static constexpr int kMaxSchemaDepth = 64;            // nested schema objects (refs followed)
};

// Compiles `schema` (a JSON schema object or boolean; ordered, so properties keep their order). Unsupported keywords are
// Error(kUnsupported) and malformed ones Error(kInvalidInput), each naming the keyword and its
// JSON pointer inside the schema.
Grammar compile_json_schema(const nlohmann::ordered_json& schema);

// Any JSON object (response_format {"type": "json_object"}).
Grammar json_object_grammar();

}  // namespace autolm::grammar
