// Python str semantics over UTF-8 std::string: code-point indexing, whitespace, case mapping,
// strip/split/splitlines/replace, and the repr() of floats and strings (as CPython prints them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autolm::jinja {

// Lenient UTF-8: an invalid byte b decodes to U+DC00+b and encodes back to the same byte.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);
size_t utf8_length(std::string_view s);
// Code-point index of byte offset `byte` in s.
size_t utf8_index_of_byte(std::string_view s, size_t byte);

bool py_isspace(char32_t c);
bool py_isprintable(char32_t c);
bool py_isalpha(char32_t c);
bool py_isdigit(char32_t c);
bool py_isalnum(char32_t c);
bool py_is_linebreak(char32_t c);  // what str.splitlines splits on

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string py_capitalize(std::string_view s);  // str.capitalize()
std::string py_swapcase(std::string_view s);
bool py_isupper(std::string_view s);
bool py_islower(std::string_view s);

// str.strip / lstrip / rstrip; chars = nullopt strips whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / rsplit; sep = nullopt splits on whitespace runs. maxsplit < 0 = unlimited.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
int64_t py_count(std::string_view s, std::string_view sub);

std::string py_float_repr(double v);  // repr(float): 1.0, 0.1, 1e-05, 1e+16, inf, nan
std::string py_str_repr(std::string_view s);  // repr(str) with Python's quote choice and escapes

// format(value, spec) for the common format-spec mini-language, used by str.format and '%'.
std::string py_format_int(int64_t v, const std::string& spec);
std::string py_format_float(double v, const std::string& spec);
std::string py_format_str(const std::string& v, const std::string& spec);

}  // namespace autolm::jinja
