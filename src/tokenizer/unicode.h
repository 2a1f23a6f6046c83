// UTF-8 decoding/encoding and the Unicode character classes the HF pipeline uses
// (Rust char::is_whitespace, is_alphanumeric, Unicode punctuation, combining marks …).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace autolm::tokenizer_detail {

// Decodes the code point at s[i] (s must be valid UTF-8); returns it and sets len.
inline char32_t decode_utf8(std::string_view s, size_t i, size_t* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) { *len = 1; return c; }
  if (c < 0xE0) { *len = 2; return ((c & 0x1F) << 6) | (s[i + 1] & 0x3F); }
  if (c < 0xF0) { *len = 3; return ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F); }
  *len = 4;
  return ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
}
inline size_t utf8_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
void append_utf8(std::string& out, char32_t c);
inline std::string to_utf8(char32_t c) { std::string s; append_utf8(s, c); return s; }
size_t count_chars(std::string_view s);

// Replaces invalid UTF-8 by U+FFFD like Python's bytes.decode(errors="replace") (one
// replacement per maximal invalid subpart). Returns true when s was already valid.
bool sanitize_utf8(std::string_view s, std::string& out);
// Length of the longest prefix of s that is complete, valid UTF-8 ending on a char boundary.
bool is_valid_utf8(std::string_view s);

bool is_whitespace(char32_t c);     // Rust char::is_whitespace (White_Space property)
bool is_alphanumeric(char32_t c);   // Rust char::is_alphanumeric (approximation: L*, N*)
bool is_numeric(char32_t c);        // Rust char::is_numeric (N*)
bool is_punctuation(char32_t c);    // ASCII punctuation or Unicode P*
bool is_combining_mark(char32_t c); // General_Category M*
bool is_nonspacing_mark(char32_t c); // General_Category Mn (BertNormalizer's strip_accents)
// Python's str.strip(): leading and trailing str.isspace() characters removed.
std::string strip_python(std::string_view s);
bool is_bert_control(char32_t c);   // C* except \t \n \r
bool is_chinese_char(char32_t c);
// Rust char::to_lowercase (may produce several chars, e.g. U+0130).
void append_lowercase(std::u32string& out, char32_t c);

}  // namespace autolm::tokenizer_detail
