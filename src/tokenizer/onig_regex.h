// Oniguruma regex (Ruby syntax, UTF-8) with the find-all semantics of the Rust `onig` crate
// that HF tokenizers uses for Split / Replace patterns.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autolm::tokenizer_detail {

class Regex {
 public:
  // Throws Error(kInvalidInput) naming `source` when the pattern does not compile.
  Regex(std::string_view pattern, const std::string& source);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Non-overlapping matches left to right as byte ranges (empty matches allowed, as onig does).
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  void* reg_ = nullptr;  // OnigRegex
};

// Escapes a literal for use inside a regex.
std::string regex_escape(std::string_view s);

}  // namespace autolm::tokenizer_detail
