// JSON documents read from a file, with accessors whose errors name the file and the key.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "autolm/error.h"

namespace autolm {

using json = nlohmann::json;

// Parses a JSON file; malformed JSON is an Error naming the file, line and column.
json load_json_file(const std::string& path);

// A JSON object plus where it came from, so every lookup error can say "file: key".
class JsonConfig {
 public:
  JsonConfig() = default;
  JsonConfig(json j, std::string source) : j_(std::move(j)), source_(std::move(source)) {}

  const json& raw() const { return j_; }
  const std::string& source() const { return source_; }
  bool has(const std::string& key) const { return j_.is_object() && j_.contains(key) && !j_[key].is_null(); }

  // Required key: missing or wrongly typed values throw, naming source and key.
  template <typename T>
  T get(const std::string& key) const {
    if (!has(key))
      throw Error(ErrorKind::kInvalidInput, source_ + ": missing required key \"" + key + "\"");
    return convert<T>(key, j_.at(key));
  }
  // Optional key with default (null counts as absent, as in transformers).
  template <typename T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? convert<T>(key, j_.at(key)) : fallback;
  }
  template <typename T>
  std::optional<T> get_opt(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    return convert<T>(key, j_.at(key));
  }
  // A nested object as its own JsonConfig ("file: outer.inner" in errors).
  JsonConfig sub(const std::string& key) const {
    return JsonConfig(has(key) ? j_.at(key) : json::object(), source_ + ": " + key);
  }

 private:
  template <typename T>
  T convert(const std::string& key, const json& v) const {
    try {
      if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
        if (!v.is_number_integer() && !(v.is_number_float() && v.get<double>() == (int64_t)v.get<double>()))
          throw Error(ErrorKind::kInvalidInput, "");
      } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
        if (!v.is_number()) throw Error(ErrorKind::kInvalidInput, "");
      }
      return v.get<T>();
    } catch (const std::exception&) {
      throw Error(ErrorKind::kInvalidInput,
                  source_ + ": key \"" + key + "\" has the wrong type (" + v.dump() + ")");
    }
  }

  json j_ = json::object();
  std::string source_;
};

}  // namespace autolm
