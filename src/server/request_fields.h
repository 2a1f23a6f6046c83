// Reading OpenAI request fields (internal to autolm_server): typed getters whose errors are
// OpenAI 400s naming the field (ApiError), and the refusals every request parser shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "server/openai.h"

namespace autolm::server {

// n random lowercase hex digits (response ids).
std::string random_hex(size_t n);
// "a string", "an integer", … for error messages.
const char* json_type(const ojson& v);

// ApiError 400: invalid_type / invalid_value / unsupported_value, naming the field.
[[noreturn]] void bad_type(const std::string& field, const ojson& v, const std::string& expected);
[[noreturn]] void bad_value(const std::string& field, const std::string& why);
[[noreturn]] void unsupported(const std::string& field, const std::string& why);
// A request over one of the server's limits (RequestLimits): names the field, the value and
// the limit, and how to raise it.
[[noreturn]] void over_limit(const std::string& field, const std::string& what, int64_t value, int64_t limit,
                             const char* flag);

// The field's value, or nullptr when absent or null (OpenAI treats null as "not given").
const ojson* field(const ojson& req, const char* key);
std::optional<bool> get_bool(const ojson& req, const char* key);
// A finite number.
std::optional<double> get_number(const ojson& req, const char* key);
// A number stored as float32 (temperature, top_p): 1e300 is refused, not silently infinity.
std::optional<float> get_float(const ojson& req, const char* key);
// An integer (16.0 counts as 16, as JSON clients send it).
std::optional<int64_t> get_int(const ojson& req, const char* key);

// Scalars inside a JSON value (token ids in nested lists, entries of an object), counted
// without recursion: bounds what GenerationConfig::update is asked to copy and what the
// logits processors walk every step.
int64_t count_values(const ojson& v);
// ordered_json (requests) → json (GenerationConfig), through parse_json like every parse of
// request data: the value was already depth-checked, so this only changes the container.
nlohmann::json to_json(const ojson& v, const std::string& where);

}  // namespace autolm::server
