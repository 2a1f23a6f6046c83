// GrammarBuilder (builder.h): nodes appended to one Grammar; compiled schemas are appended with
// their node indexes shifted.
#include "generate/grammar/builder.h"

#include <algorithm>

#include "autolm/error.h"

namespace autolm::grammar {

int32_t GrammarBuilder::add(Node n) {
  if (g_.nodes.size() >= kMaxNodes)
    throw Error(ErrorKind::kInvalidInput, "grammar: more than " + std::to_string(kMaxNodes) +
                                              " nodes (schemas too large or too many of them)");
  g_.nodes.push_back(std::move(n));
  return static_cast<int32_t>(g_.nodes.size() - 1);
}

int32_t GrammarBuilder::schema(const nlohmann::ordered_json& schema) {
  Grammar part = compile_json_schema(schema);
  if (g_.nodes.size() + part.nodes.size() > kMaxNodes)
    throw Error(ErrorKind::kInvalidInput, "grammar: more than " + std::to_string(kMaxNodes) +
                                              " nodes (schemas too large or too many of them)");
  const auto offset = static_cast<int32_t>(g_.nodes.size());
  auto shift = [&](int32_t& i) {
    if (i != kNoNode) i += offset;
  };
  for (Node& n : part.nodes) {
    for (Property& p : n.properties) shift(p.node);
    shift(n.additional);
    shift(n.items);
    for (int32_t& a : n.alternatives) shift(a);
    for (int32_t& a : n.sequence) shift(a);
    shift(n.separator);
    g_.nodes.push_back(std::move(n));
  }
  return part.root + offset;
}

int32_t GrammarBuilder::any_object() { return schema(nlohmann::ordered_json{{"type", "object"}}); }

int32_t GrammarBuilder::text(std::string bytes) {
  if (bytes.empty()) throw Error(ErrorKind::kInternal, "grammar: empty text node");
  Node n;
  n.kind = NodeKind::kText;
  n.text = std::move(bytes);
  return add(std::move(n));
}

int32_t GrammarBuilder::literal(std::vector<std::string> json_texts) {
  std::sort(json_texts.begin(), json_texts.end());
  json_texts.erase(std::unique(json_texts.begin(), json_texts.end()), json_texts.end());
  if (json_texts.empty() || json_texts.front().empty()) throw Error(ErrorKind::kInternal, "grammar: empty literal");
  Node n;
  n.kind = NodeKind::kLiteral;
  n.literals = std::move(json_texts);
  return add(std::move(n));
}

int32_t GrammarBuilder::object(const std::vector<std::pair<std::string, int32_t>>& properties) {
  Node n;
  n.kind = NodeKind::kObject;
  for (const auto& [key, node] : properties) n.properties.push_back({nlohmann::json(key).dump(), node, true});
  n.next_required.resize(n.properties.size() + 1);
  for (size_t i = 0; i <= n.properties.size(); ++i) n.next_required[i] = static_cast<uint32_t>(i);
  return add(std::move(n));
}

int32_t GrammarBuilder::array(int32_t items, uint32_t min_items, uint32_t max_items) {
  Node n;
  n.kind = NodeKind::kArray;
  n.items = items;
  n.min_items = min_items;
  n.max_items = max_items;
  return add(std::move(n));
}

int32_t GrammarBuilder::any_of(std::vector<int32_t> alternatives) {
  if (alternatives.size() == 1) return alternatives[0];
  Node n;
  n.kind = NodeKind::kAnyOf;
  n.alternatives = std::move(alternatives);
  return add(std::move(n));
}

int32_t GrammarBuilder::sequence(std::vector<int32_t> items, int32_t separator, uint32_t min_repeat,
                                 uint32_t max_repeat) {
  if (items.empty() || min_repeat < 1 || max_repeat < min_repeat)
    throw Error(ErrorKind::kInternal, "grammar: a sequence needs items and 1 <= min_repeat <= max_repeat");
  Node n;
  n.kind = NodeKind::kSequence;
  n.sequence = std::move(items);
  n.separator = separator;
  n.min_items = min_repeat;
  n.max_items = max_repeat;
  return add(std::move(n));
}

Grammar GrammarBuilder::finish(int32_t root, bool single_spaces) && {
  g_.root = root;
  g_.single_spaces = single_spaces;
  return std::move(g_);
}

}  // namespace autolm::grammar
