// Jinja lexer: splits template source into data and tag tokens with jinja2's whitespace rules
// (trim_blocks, lstrip_blocks, -/+ modifiers, raw blocks, comments, keep_trailing_newline=False).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace autolm::jinja {

enum class Tok : uint8_t {
  kData,        // text: the literal output between tags
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,      // text holds the decoded value
  kInt,
  kFloat,
  kOp,          // text holds the operator: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { } ;
  kEof,
};

struct Token {
  Tok type;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // byte offset in the normalized source
};

// Maps byte offsets to "name:line:col" for messages; line and column are 1-based (column in characters).
class SourceMap {
 public:
  SourceMap(std::string name, const std::string& source);
  std::string where(size_t offset) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string source_;
  std::vector<size_t> line_starts_;
};

// jinja2's source normalization: \r\n and \r become \n; one trailing newline is dropped.
std::string normalize_source(const std::string& source);

// Tokenizes normalized source; syntax errors throw autolm::Error(kInvalidInput) naming line and column.
std::vector<Token> tokenize(const std::string& source, const SourceMap& map);

}  // namespace autolm::jinja
