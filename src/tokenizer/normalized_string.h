// NormalizedString: text being normalized/pre-tokenized, with per-byte alignments back to the
// original input (as HF tokenizers tracks them), plus pattern splitting with HF's behaviours.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/onig_regex.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {

struct Align {
  uint32_t start, end;  // byte range in the original input text
};

// One piece of a pattern search: [start, end) bytes and whether it matched.
struct Match {
  size_t start, end;
  bool is_match;
};
using Matches = std::vector<Match>;

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
SplitBehavior parse_split_behavior(const std::string& s, const std::string& source);

Matches find_literal(std::string_view text, std::string_view needle);
Matches find_regex(const Regex& re, std::string_view text);
template <typename Pred>
Matches find_char_pred(std::string_view text, Pred pred);
void invert(Matches& m);

class NormalizedString {
 public:
  NormalizedString() = default;
  // A piece of the original input starting at byte `base` of it.
  NormalizedString(std::string_view text, size_t base);

  const std::string& get() const { return norm_; }
  bool empty() const { return norm_.empty(); }
  const std::vector<Align>& alignments() const { return align_; }
  size_t original_start() const { return original_start_; }
  // Original byte range of normalized bytes [start, end) (end > start).
  std::pair<size_t, size_t> original_range(size_t start, size_t end) const {
    return {align_[start].start, align_[end - 1].end};
  }

  // HF NormalizedString::transform over the whole string: each (char, change) with change
  // 1 = inserted, 0 = replaces one char, -n = replaces one char and removes n more.
  void transform(const std::vector<std::pair<char32_t, int>>& dest);
  void prepend(std::string_view s);
  // Replace every match of the pattern with `content` (HF NormalizedString::replace).
  void replace(const Matches& matches, std::string_view content);
  template <typename Pred>
  void filter(Pred keep);  // keep chars for which keep(c) is true
  void lstrip();
  void rstrip();
  // Split by matches following `behavior`; empty pieces are dropped (as PreTokenizedString does).
  void split(const Matches& matches, SplitBehavior behavior, std::vector<NormalizedString>& out) const;
  NormalizedString slice(size_t start, size_t end) const;

  // Normalizers may grow a piece at most this many times its original bytes (plus
  // kGrowthSlack): NFKC expands a character at most 18x, Metaspace 3x, while a Replace or
  // Precompiled rule from a hostile file could otherwise turn a message into terabytes.
  static constexpr size_t kMaxGrowth = 64, kGrowthSlack = 4096;
  // Throws Error when the normalized text would reach `new_size` bytes, beyond kMaxGrowth.
  void check_growth(size_t new_size) const;

 private:

  std::string norm_;
  std::vector<Align> align_;
  size_t original_start_ = 0;
};

// ---- template implementations ----
template <typename Pred>
Matches find_char_pred(std::string_view text, Pred pred) {
  Matches m;
  if (text.empty()) {
    m.push_back({0, 0, false});
    return m;
  }
  size_t last = 0, i = 0;
  while (i < text.size()) {
    size_t len;
    char32_t c = decode_utf8(text, i, &len);
    if (pred(c)) {
      if (last < i) m.push_back({last, i, false});
      m.push_back({i, i + len, true});
      last = i + len;
    }
    i += len;
  }
  if (last < text.size()) m.push_back({last, text.size(), false});
  return m;
}

template <typename Pred>
void NormalizedString::filter(Pred keep) {
  std::string n;
  std::vector<Align> a;
  n.reserve(norm_.size());
  a.reserve(align_.size());
  size_t i = 0;
  while (i < norm_.size()) {
    size_t len;
    char32_t c = decode_utf8(norm_, i, &len);
    if (keep(c)) {
      n.append(norm_, i, len);
      a.insert(a.end(), align_.begin() + i, align_.begin() + i + len);
    }
    i += len;
  }
  norm_ = std::move(n);
  align_ = std::move(a);
}

}  // namespace autolm::tokenizer_detail
