// Oniguruma wrapper: compile once, search from many threads (each search owns its region).
#include "tokenizer/onig_regex.h"

#include <oniguruma.h>

#include <mutex>

#include "autolm/error.h"

namespace autolm::tokenizer_detail {

static void init_onig() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding enc = ONIG_ENCODING_UTF8;
    onig_initialize(&enc, 1);
  });
}

Regex::Regex(std::string_view pattern, const std::string& source) {
  init_onig();
  OnigErrorInfo einfo;
  OnigRegex reg = nullptr;
  auto p = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(buf, r, &einfo);
    throw Error(ErrorKind::kInvalidInput, source + ": invalid regex \"" + std::string(pattern) +
                                              "\": " + reinterpret_cast<char*>(buf));
  }
  reg_ = reg;
}

Regex::~Regex() {
  if (reg_) onig_free(static_cast<OnigRegex>(reg_));
}

void Regex::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  auto reg = static_cast<OnigRegex>(reg_);
  OnigRegion* region = onig_region_new();
  auto start = reinterpret_cast<const OnigUChar*>(text.data());
  auto end = start + text.size();
  size_t last_end = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (last_end <= text.size()) {
    onig_region_clear(region);
    int r = onig_search(reg, start, end, start + last_end, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;  // ONIG_MISMATCH or error
    size_t s = static_cast<size_t>(region->beg[0]), e = static_cast<size_t>(region->end[0]);
    if (s == e && have_last && last_match_end == e) {
      // Empty match right after the previous match: step one character (onig crate rule).
      if (last_end >= text.size()) break;
      unsigned char c = static_cast<unsigned char>(text[last_end]);
      last_end += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      continue;
    }
    last_end = e;
    last_match_end = e;
    have_last = true;
    out.emplace_back(s, e);
    if (s == e && last_end >= text.size()) break;
  }
  onig_region_free(region, 1);
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.+*?()|[]{}^$#&-~ \t\n\r\v\f").find(c) != std::string_view::npos) {
      switch (c) {
        case '\t': out += "\\t"; continue;
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\v': out += "\\v"; continue;
        case '\f': out += "\\f"; continue;
        default: out.push_back('\\');
      }
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace autolm::tokenizer_detail
