// JSON schema → grammar nodes. Local $ref ("#", "#/$defs/…", any "#/…" pointer) are compiled
// once each, so recursive schemas become cyclic node graphs.
#include "generate/grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "autolm/error.h"

namespace autolm::grammar {
namespace {

using ojson = nlohmann::ordered_json;

// Keywords that only annotate (or that we document as not enforced: format, numeric bounds).
const std::set<std::string>& ignored_keywords() {
  static const std::set<std::string> k = {
      "title", "description", "default", "examples", "$schema", "$id", "$comment", "$defs", "definitions",
      "readOnly", "writeOnly", "deprecated", "format", "contentEncoding", "contentMediaType", "strict", "name",
      "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "discriminator", "nullable"};
  return k;
}

const std::set<std::string>& handled_keywords() {
  static const std::set<std::string> k = {"type", "enum", "const", "properties", "required", "additionalProperties",
                                          "items", "minItems", "maxItems", "minLength", "maxLength", "anyOf",
                                          "oneOf", "allOf", "$ref"};
  return k;
}

class Compiler {
 public:
  explicit Compiler(const ojson& root) : root_(root) {}

  Grammar run() {
    g_.root = compile(root_, "", 0);
    return std::move(g_);
  }

 private:
  [[noreturn]] void unsupported(const std::string& where, const std::string& what) const {
    throw Error(ErrorKind::kUnsupported, "json schema: " + what + " at \"" + (where.empty() ? "/" : where) +
                                             "\" is not supported by autolm's constrained decoding "
                                             "(docs/GENERATION.md)");
  }
  [[noreturn]] void invalid(const std::string& where, const std::string& what) const {
    throw Error(ErrorKind::kInvalidInput, "json schema: " + what + " at \"" + (where.empty() ? "/" : where) + "\"");
  }

  int32_t add(Node n, const std::string& where) {
    if (g_.nodes.size() >= SchemaLimits::kMaxNodes)
      invalid(where, "more than " + std::to_string(SchemaLimits::kMaxNodes) + " grammar nodes");
    g_.nodes.push_back(std::move(n));
    return static_cast<int32_t>(g_.nodes.size() - 1);
  }

  uint32_t count(const ojson& s, const char* key, const std::string& where, uint32_t fallback) const {
    if (!s.contains(key)) return fallback;
    const ojson& v = s[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      invalid(where + "/" + key, std::string(key) + " must be a non-negative integer, got " + v.dump());
    return static_cast<uint32_t>(std::min<int64_t>(v.get<int64_t>(), kUnbounded - 1));
  }

  int32_t literal_node(std::vector<std::string> texts, const std::string& where) {
    std::sort(texts.begin(), texts.end());
    texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
    if (texts.empty()) invalid(where, "no value can match (empty enum, or enum values all of another type)");
    for (const auto& t : texts) literal_bytes_ += t.size();
    if (literal_bytes_ > SchemaLimits::kMaxLiteralBytes)
      invalid(where, "enum / const values longer than " + std::to_string(SchemaLimits::kMaxLiteralBytes) + " bytes");
    Node n;
    n.kind = NodeKind::kLiteral;
    n.literals = std::move(texts);
    return add(std::move(n), where);
  }

  // Any JSON value ({} or true): object / array / string / number / true, false, null.
  int32_t any_node() {
    if (any_ != kNoNode) return any_;
    Node alt;
    alt.kind = NodeKind::kAnyOf;
    any_ = add(alt, "");
    Node obj;
    obj.kind = NodeKind::kObject;
    obj.additional = any_;
    obj.next_required = {0};
    Node arr;
    arr.kind = NodeKind::kArray;
    arr.items = any_;
    Node str;
    str.kind = NodeKind::kString;
    Node num;
    num.kind = NodeKind::kNumber;
    std::vector<int32_t> alts = {add(obj, ""), add(arr, ""), add(str, ""), add(num, "")};
    alts.push_back(literal_node({"true", "false", "null"}, ""));
    g_.nodes[any_].alternatives = alts;
    return any_;
  }

  static bool matches_type(const ojson& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "number") return v.is_number();
    if (type == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
  }

  std::string text_of(const ojson& v, const std::string& where) {
    try {
      return v.dump();
    } catch (const nlohmann::json::exception&) {
      invalid(where, "enum / const value is not valid UTF-8");
    }
  }

  int32_t compile_ref(const std::string& ref, const std::string& where, int depth) {
    if (auto it = refs_.find(ref); it != refs_.end()) return it->second;
    if (ref.empty() || ref[0] != '#') unsupported(where + "/$ref", "non-local $ref \"" + ref + "\"");
    const ojson* target = nullptr;
    try {
      const std::string pointer = ref.substr(1);
      const ojson::json_pointer p(pointer);
      if (root_.contains(p)) target = &root_.at(p);
    } catch (const nlohmann::json::exception&) {
      invalid(where + "/$ref", "malformed $ref \"" + ref + "\"");
    }
    if (!target) invalid(where + "/$ref", "$ref \"" + ref + "\" points to nothing");
    // A placeholder first, so that a recursive reference finds it.
    Node alias;
    alias.kind = NodeKind::kAnyOf;
    const int32_t id = add(alias, where);
    refs_[ref] = id;
    const int32_t body = compile(*target, ref.substr(1), depth + 1);
    g_.nodes[id].alternatives = {body};
    return id;
  }

  int32_t compile(const ojson& s, const std::string& where, int depth) {
    if (depth > SchemaLimits::kMaxSchemaDepth)
      invalid(where, "schema nested (or $ref chained) deeper than " + std::to_string(SchemaLimits::kMaxSchemaDepth));
    if (s.is_boolean()) {
      if (!s.get<bool>()) unsupported(where, "the schema false (nothing matches)");
      return any_node();
    }
    if (!s.is_object()) invalid(where, "a schema must be an object or a boolean, got " + s.dump());
    for (const auto& [key, value] : s.items()) {
      (void)value;
      if (!handled_keywords().count(key) && !ignored_keywords().count(key)) {
        // Unknown keywords are annotations in JSON schema; these constrain and are refused.
        static const std::set<std::string> refused = {
            "pattern", "patternProperties", "propertyNames", "minProperties", "maxProperties", "if", "then",
            "else", "not", "dependentRequired", "dependentSchemas", "dependencies", "uniqueItems", "contains",
            "minContains", "maxContains", "prefixItems", "additionalItems", "unevaluatedProperties",
            "unevaluatedItems", "$dynamicRef", "$recursiveRef"};
        if (refused.count(key)) unsupported(where + "/" + key, "keyword \"" + key + "\"");
      }
    }
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) invalid(where + "/$ref", "$ref must be a string");
      for (const auto& [key, value] : s.items()) {
        (void)value;
        if (handled_keywords().count(key) && key != "$ref")
          unsupported(where + "/" + key, "keyword \"" + key + "\" beside $ref");
      }
      return compile_ref(s["$ref"].get<std::string>(), where, depth);
    }
    if (s.contains("allOf")) {
      const ojson& all = s["allOf"];
      if (!all.is_array() || all.size() != 1 || s.size() > 1 + count_ignored(s))
        unsupported(where + "/allOf", "allOf other than a single schema alone");
      return compile(all[0], where + "/allOf/0", depth + 1);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const ojson& alts = s[key];
      if (!alts.is_array() || alts.empty()) invalid(where + "/" + key, std::string(key) + " must be a non-empty array");
      for (const auto& [k, v] : s.items()) {
        (void)v;
        if (handled_keywords().count(k) && k != key) unsupported(where + "/" + k, "keyword \"" + k + "\" beside " + key);
      }
      Node n;
      n.kind = NodeKind::kAnyOf;
      const int32_t id = add(n, where);
      std::vector<int32_t> ids;
      for (size_t i = 0; i < alts.size(); ++i)
        ids.push_back(compile(alts[i], where + "/" + key + "/" + std::to_string(i), depth + 1));
      g_.nodes[id].alternatives = ids;
      return id;
    }

    // Types this schema allows (empty = any).
    std::vector<std::string> types;
    if (s.contains("type")) {
      const ojson& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      else if (t.is_array() && !t.empty())
        for (const auto& x : t) {
          if (!x.is_string()) invalid(where + "/type", "type must be a string or an array of strings");
          types.push_back(x.get<std::string>());
        }
      else invalid(where + "/type", "type must be a string or a non-empty array of strings");
      for (const auto& ty : types)
        if (ty != "object" && ty != "array" && ty != "string" && ty != "number" && ty != "integer" &&
            ty != "boolean" && ty != "null")
          invalid(where + "/type", "unknown type \"" + ty + "\"");
    }
    auto allowed = [&](const ojson& v) {
      if (types.empty()) return true;
      for (const auto& ty : types)
        if (matches_type(v, ty)) return true;
      return false;
    };
    if (s.contains("const")) {
      if (!allowed(s["const"])) invalid(where + "/const", "const value is not of the schema's type");
      return literal_node({text_of(s["const"], where + "/const")}, where + "/const");
    }
    if (s.contains("enum")) {
      const ojson& e = s["enum"];
      if (!e.is_array()) invalid(where + "/enum", "enum must be an array");
      std::vector<std::string> texts;
      for (const auto& v : e)
        if (allowed(v)) texts.push_back(text_of(v, where + "/enum"));
      return literal_node(std::move(texts), where + "/enum");
    }
    if (types.empty()) {
      // Keywords imply the type when "type" is absent (the common pydantic / zod shapes).
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties"))
        types.push_back("object");
      else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems"))
        types.push_back("array");
      else if (s.contains("minLength") || s.contains("maxLength"))
        types.push_back("string");
      else
        return any_node();
    }
    std::vector<int32_t> ids;
    for (const auto& ty : types) ids.push_back(typed(s, ty, where, depth));
    if (ids.size() == 1) return ids[0];
    Node n;
    n.kind = NodeKind::kAnyOf;
    n.alternatives = ids;
    return add(std::move(n), where);
  }

  static size_t count_ignored(const ojson& s) {
    size_t n = 0;
    for (const auto& [k, v] : s.items()) {
      (void)v;
      if (!handled_keywords().count(k)) ++n;
    }
    return n;
  }

  int32_t typed(const ojson& s, const std::string& type, const std::string& where, int depth) {
    Node n;
    if (type == "boolean") return literal_node({"false", "true"}, where);
    if (type == "null") return literal_node({"null"}, where);
    if (type == "number" || type == "integer") {
      n.kind = type == "number" ? NodeKind::kNumber : NodeKind::kInteger;
      return add(std::move(n), where);
    }
    if (type == "string") {
      n.kind = NodeKind::kString;
      n.min_length = count(s, "minLength", where, 0);
      n.max_length = count(s, "maxLength", where, kUnbounded);
      if (n.min_length > n.max_length) invalid(where, "minLength is greater than maxLength");
      return add(std::move(n), where);
    }
    if (type == "array") {
      n.kind = NodeKind::kArray;
      n.min_items = count(s, "minItems", where, 0);
      n.max_items = count(s, "maxItems", where, kUnbounded);
      if (n.min_items > n.max_items) invalid(where, "minItems is greater than maxItems");
      const int32_t id = add(std::move(n), where);
      int32_t items = s.contains("items") ? compile(s["items"], where + "/items", depth + 1) : any_node();
      if (s.contains("items") && s["items"].is_array()) unsupported(where + "/items", "items as an array (tuples)");
      g_.nodes[id].items = items;
      return id;
    }
    // object
    n.kind = NodeKind::kObject;
    const int32_t id = add(std::move(n), where);
    std::vector<Property> props;
    std::set<std::string> names;
    if (s.contains("properties")) {
      const ojson& p = s["properties"];
      if (!p.is_object()) invalid(where + "/properties", "properties must be an object");
      for (const auto& [name, sub] : p.items()) {
        Property prop;
        prop.key_json = text_of(ojson(name), where + "/properties");
        prop.node = compile(sub, where + "/properties/" + name, depth + 1);
        props.push_back(std::move(prop));
        names.insert(name);
      }
    }
    if (s.contains("required")) {
      const ojson& r = s["required"];
      if (!r.is_array()) invalid(where + "/required", "required must be an array of strings");
      for (const auto& x : r) {
        if (!x.is_string()) invalid(where + "/required", "required must be an array of strings");
        const std::string name = x.get<std::string>();
        if (!names.count(name))
          unsupported(where + "/required", "required property \"" + name + "\" that \"properties\" does not define");
        for (auto& prop : props)
          if (prop.key_json == text_of(ojson(name), where)) prop.required = true;
      }
    }
    // additionalProperties: absent = false (as OpenAI's strict mode and xgrammar do: the model
    // writes the properties the schema names); true or a schema allows more keys after them.
    int32_t additional = kNoNode;
    if (s.contains("additionalProperties")) {
      const ojson& a = s["additionalProperties"];
      if (a.is_boolean()) additional = a.get<bool>() ? any_node() : kNoNode;
      else additional = compile(a, where + "/additionalProperties", depth + 1);
    } else if (!s.contains("properties")) {
      additional = any_node();  // {"type": "object"} without properties: any object
    }
    Node& node = g_.nodes[id];
    node.properties = std::move(props);
    node.additional = additional;
    node.next_required.assign(node.properties.size() + 1, static_cast<uint32_t>(node.properties.size()));
    for (size_t i = node.properties.size(); i-- > 0;)
      node.next_required[i] = node.properties[i].required ? static_cast<uint32_t>(i) : node.next_required[i + 1];
    return id;
  }

  const ojson& root_;
  Grammar g_;
  std::map<std::string, int32_t> refs_;
  int32_t any_ = kNoNode;
  size_t literal_bytes_ = 0;
};

}  // namespace

Grammar compile_json_schema(const nlohmann::ordered_json& schema) {
  try {
    return Compiler(schema).run();
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kInvalidInput, std::string("json schema: ") + e.what());
  }
}

Grammar json_object_grammar() {
  return compile_json_schema(nlohmann::ordered_json{{"type", "object"}});
}

}  // namespace autolm::grammar
