// Typed request-field getters and the shared refusals (request_fields.h).
#include "server/request_fields.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "io/json_file.h"

namespace autolm::server {

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = digits[rng() & 15];
  return s;
}

const char* json_type(const ojson& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

[[noreturn]] void bad_type(const std::string& field, const ojson& v, const std::string& expected) {
  throw ApiError(400, "Invalid type for '" + field + "': expected " + expected + ", but got " + json_type(v) + ".", field,
                 "invalid_type");
}

[[noreturn]] void bad_value(const std::string& field, const std::string& why) {
  throw ApiError(400, "Invalid value for '" + field + "': " + why, field, "invalid_value");
}

[[noreturn]] void unsupported(const std::string& field, const std::string& why) {
  throw ApiError(400, "Unsupported value for '" + field + "': " + why, field, "unsupported_value");
}

[[noreturn]] void over_limit(const std::string& field, const std::string& what, int64_t value, int64_t limit,
                             const char* flag) {
  throw ApiError(400,
                 "Invalid value for '" + field + "': " + what + " is " + std::to_string(value) +
                     ", more than this server's limit of " + std::to_string(limit) + " (autolm serve " + flag + ").",
                 field, "limit_exceeded");
}

const ojson* field(const ojson& req, const char* key) {
  auto it = req.find(key);
  return it == req.end() || it->is_null() ? nullptr : &*it;
}

std::optional<bool> get_bool(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad_type(key, *v, "a boolean");
  return v->get<bool>();
}

std::optional<double> get_number(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_type(key, *v, "a number");
  const double d = v->get<double>();
  if (!std::isfinite(d)) bad_value(key, "must be finite.");
  return d;
}

std::optional<float> get_float(const ojson& req, const char* key) {
  auto d = get_number(req, key);
  if (d && std::abs(*d) > double(std::numeric_limits<float>::max()))
    bad_value(key, field(req, key)->dump() + " is out of range.");
  return d ? std::optional<float>(static_cast<float>(*d)) : std::nullopt;
}

std::optional<int64_t> get_int(const ojson& req, const char* key) {
  const ojson* v = field(req, key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX))
    bad_value(key, std::to_string(v->get<uint64_t>()) + " is out of range.");
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {  // 16.0 is an integer to JSON clients
    const double d = v->get<double>();
    if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<int64_t>(d);
  }
  bad_type(key, *v, "an integer");
}

int64_t count_values(const ojson& v) {
  int64_t n = 0;
  std::vector<const ojson*> todo{&v};
  while (!todo.empty()) {
    const ojson* x = todo.back();
    todo.pop_back();
    if (x->is_structured()) {
      for (const auto& e : *x) todo.push_back(&e);
    } else {
      ++n;
    }
  }
  return n;
}

nlohmann::json to_json(const ojson& v, const std::string& where) { return parse_json<nlohmann::json>(dump(v), where); }

}  // namespace autolm::server
