// Test-side JSON schema validator for the subset autolm's constrained decoding supports: the
// oracle the grammar tests check generated outputs against (independent of src/generate/grammar:
// it walks the parsed value, not bytes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace autolm::test {

using ojson = nlohmann::ordered_json;

inline size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Returns "" when `v` is valid against `schema`, else why not.
inline std::string validate(const ojson& v, const ojson& schema, const ojson& root, const std::string& at = "$") {
  if (schema.is_boolean()) return schema.get<bool>() ? "" : at + ": schema false";
  if (schema.contains("$ref")) {
    const std::string ref = schema["$ref"].get<std::string>();
    return validate(v, root.at(ojson::json_pointer(ref.substr(1))), root, at);
  }
  if (schema.contains("allOf")) return validate(v, schema["allOf"][0], root, at);
  for (const char* key : {"anyOf", "oneOf"})
    if (schema.contains(key)) {
      for (const auto& alt : schema[key])
        if (validate(v, alt, root, at).empty()) return "";
      return at + ": matches no alternative of " + key;
    }
  if (schema.contains("const") && v != schema["const"]) return at + ": not the const";
  if (schema.contains("enum")) {
    bool found = false;
    for (const auto& e : schema["enum"]) found = found || e == v;
    if (!found) return at + ": not in enum";
  }
  if (schema.contains("type")) {
    auto is = [&](const std::string& t) {
      if (t == "object") return v.is_object();
      if (t == "array") return v.is_array();
      if (t == "string") return v.is_string();
      if (t == "number") return v.is_number();
      if (t == "integer") return v.is_number_integer();
      if (t == "boolean") return v.is_boolean();
      if (t == "null") return v.is_null();
      return false;
    };
    bool ok = false;
    if (schema["type"].is_string()) ok = is(schema["type"].get<std::string>());
    else
      for (const auto& t : schema["type"]) ok = ok || is(t.get<std::string>());
    if (!ok) return at + ": wrong type for " + v.dump();
  }
  if (v.is_string()) {
    const size_t n = code_points(v.get<std::string>());
    if (schema.contains("minLength") && n < schema["minLength"].get<size_t>()) return at + ": too short";
    if (schema.contains("maxLength") && n > schema["maxLength"].get<size_t>()) return at + ": too long";
  }
  if (v.is_array()) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) return at + ": too few items";
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) return at + ": too many items";
    if (schema.contains("items"))
      for (size_t i = 0; i < v.size(); ++i)
        if (auto e = validate(v[i], schema["items"], root, at + "[" + std::to_string(i) + "]"); !e.empty()) return e;
  }
  if (v.is_object()) {
    const ojson props = schema.value("properties", ojson::object());
    if (schema.contains("required"))
      for (const auto& r : schema["required"])
        if (!v.contains(r.get<std::string>())) return at + ": missing required " + r.get<std::string>();
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        if (auto e = validate(x, props[k], root, at + "." + k); !e.empty()) return e;
      } else if (schema.contains("additionalProperties")) {
        if (auto e = validate(x, schema["additionalProperties"], root, at + "." + k); !e.empty()) return e;
      } else if (!props.empty()) {
        return at + ": unexpected key " + k;  // autolm's default: additionalProperties false
      }
    }
  }
  return "";
}

}  // namespace autolm::test
