// JSON documents read from a file or a request, with accessors whose errors name the file and
// the key. Every parse goes through parse_json: nesting depth bounded (InputLimits), numbers
// out of double's range refused, errors naming the source — never a crash or "internal error".
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>
#include <string>
#include <string_view>

#include "autolm/error.h"
#include "io/limits.h"

namespace autolm {

using json = nlohmann::json;

namespace json_detail {

// Builds an ordered_json from SAX events. nlohmann's own DOM parser inserts object keys through
// ordered_map's linear search — quadratic in the number of keys (a 1 MB request with 100k keys
// held a thread for minutes). Here keys are appended, and duplicates (the last value wins, at
// the first key's place, as nlohmann and Python do) are found through a hash index once an
// object grows past a few keys. Nesting is bounded by `max_depth`.
class OrderedBuilder : public nlohmann::json_sax<nlohmann::ordered_json> {
 public:
  using J = nlohmann::ordered_json;
  explicit OrderedBuilder(int max_depth) : max_depth_(max_depth) {}
  J& result() { return root_; }
  bool too_deep() const { return too_deep_; }

  bool null() override { return put(J(nullptr)); }
  bool boolean(bool v) override { return put(J(v)); }
  bool number_integer(number_integer_t v) override { return put(J(v)); }
  bool number_unsigned(number_unsigned_t v) override { return put(J(v)); }
  bool number_float(number_float_t v, const string_t&) override { return put(J(v)); }
  bool string(string_t& v) override { return put(J(std::move(v))); }
  bool binary(binary_t& v) override { return put(J::binary(std::move(v))); }
  bool start_object(std::size_t) override { return open(J::object()); }
  bool start_array(std::size_t) override { return open(J::array()); }
  bool key(string_t& k) override {
    frames_.back().key = std::move(k);
    return true;
  }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(ErrorKind::kInvalidInput, std::string("malformed JSON: ") + e.what());
  }

 private:
  struct Frame {
    J* value;
    std::string key;                                          // objects: the pending key
    std::unique_ptr<std::unordered_map<std::string, size_t>> index;  // objects past 16 keys
  };
  // Places `v` where the innermost container expects it; returns where it now lives.
  J* place(J v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Frame& f = frames_.back();
    if (f.value->is_array()) {
      f.value->get_ref<J::array_t&>().push_back(std::move(v));
      return &f.value->get_ref<J::array_t&>().back();
    }
    // ordered_map is a std::vector of pairs; its operator[] looks keys up, so use the vector.
    auto& obj = static_cast<J::object_t::Container&>(f.value->get_ref<J::object_t&>());
    if (!f.index && obj.size() >= 16) {
      f.index = std::make_unique<std::unordered_map<std::string, size_t>>();
      for (size_t i = 0; i < obj.size(); ++i) f.index->emplace(obj[i].first, i);
    }
    std::optional<size_t> at;
    if (f.index) {
      if (auto it = f.index->find(f.key); it != f.index->end()) at = it->second;
    } else {
      for (size_t i = 0; i < obj.size(); ++i)
        if (obj[i].first == f.key) at = i;
    }
    if (at) {
      obj[*at].second = std::move(v);
      return &obj[*at].second;
    }
    if (f.index) f.index->emplace(f.key, obj.size());
    obj.emplace_back(std::move(f.key), std::move(v));  // ordered_map is a vector: no search
    return &obj.back().second;
  }
  bool put(J v) {
    place(std::move(v));
    return true;
  }
  bool open(J container) {
    if (int(frames_.size()) >= max_depth_) {
      too_deep_ = true;
      throw Error(ErrorKind::kInvalidInput, "");
    }
    J* where = place(std::move(container));
    frames_.push_back({where, {}, nullptr});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }

  int max_depth_;
  bool too_deep_ = false;
  J root_;
  std::vector<Frame> frames_;
};

}  // namespace json_detail

// Parses `text` (from `source`, named in errors) into json or ordered_json. Throws
// Error(kInvalidInput) for malformed JSON, nesting deeper than `max_depth` (default:
// InputLimits::json_max_depth) and numbers that overflow (1e400). ordered_json is built in
// time linear in the number of keys (json_detail::OrderedBuilder).
template <typename Json = json>
Json parse_json(std::string_view text, const std::string& source, int max_depth = 0) {
  if (max_depth <= 0) max_depth = input_limits().json_max_depth;
  if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
    json_detail::OrderedBuilder builder(max_depth);
    try {
      nlohmann::ordered_json::sax_parse(text.begin(), text.end(), &builder);
    } catch (const Error& e) {
      if (builder.too_deep())
        throw Error(ErrorKind::kInvalidInput, source + ": JSON nested deeper than " + std::to_string(max_depth) +
                                                  " levels (limit AUTOLM_MAX_JSON_DEPTH)");
      throw Error(ErrorKind::kInvalidInput, source + ": " + e.what());
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::kInvalidInput, source + ": malformed JSON: " + e.what());
    }
    return std::move(builder.result());
  } else {
    bool too_deep = false;
    const typename Json::parser_callback_t limit = [&](int depth, typename Json::parse_event_t event, Json&) {
      if (depth >= max_depth && (event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start)) {
        too_deep = true;
        throw Error(ErrorKind::kInvalidInput, "");
      }
      return true;
    };
    try {
      return Json::parse(text.begin(), text.end(), limit);
    } catch (const Error&) {
      if (!too_deep) throw;
      throw Error(ErrorKind::kInvalidInput, source + ": JSON nested deeper than " + std::to_string(max_depth) +
                                                " levels (limit AUTOLM_MAX_JSON_DEPTH)");
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorKind::kInvalidInput, source + ": malformed JSON: " + e.what());
    }
  }
}

// Reads and parses a JSON file of at most `max_bytes` (default InputLimits::config_max_bytes).
json load_json_file(const std::string& path, uint64_t max_bytes = 0);

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
    auto wrong = [&](const std::string& why) {
      return Error(ErrorKind::kInvalidInput, source_ + ": key \"" + key + "\" " + why + " (" + v.dump() + ")");
    };
    if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
      // Integers in the file's own value: 4294967298 is not silently 2, 3.0 is 3, 3.5 is refused.
      int64_t n;
      if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > uint64_t(INT64_MAX)) throw wrong("is out of range");
        n = int64_t(v.get<uint64_t>());
      } else if (v.is_number_integer()) {
        n = v.get<int64_t>();
      } else if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != double(int64_t(d))) throw wrong("must be an integer");
        n = int64_t(d);
      } else {
        throw wrong("has the wrong type, expected an integer");
      }
      if (n < int64_t(std::numeric_limits<T>::min()) || n > int64_t(std::numeric_limits<T>::max()))
        throw wrong("is out of range");
      return T(n);
    } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
      if (!v.is_number()) throw wrong("has the wrong type, expected a number");
      const double d = v.get<double>();
      if (std::is_same_v<T, float> && std::isfinite(d) && std::abs(d) > double(std::numeric_limits<float>::max()))
        throw wrong("is out of range for float32");
      return T(d);
    } else {
      try {
        return v.get<T>();
      } catch (const std::exception&) {
        throw wrong("has the wrong type");
      }
    }
  }

  json j_ = json::object();
  std::string source_;
};

}  // namespace autolm
