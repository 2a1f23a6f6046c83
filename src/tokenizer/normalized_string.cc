// NormalizedString alignment bookkeeping and pattern splitting, mirroring HF tokenizers'
// normalizer.rs (transform, prepend, replace, split with SplitDelimiterBehavior).
#include "tokenizer/normalized_string.h"

#include <algorithm>

#include "autolm/error.h"

namespace autolm::tokenizer_detail {

SplitBehavior parse_split_behavior(const std::string& s, const std::string& source) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  throw Error(ErrorKind::kUnsupported, source + ": unknown split behavior \"" + s + "\"");
}

Matches find_literal(std::string_view text, std::string_view needle) {
  Matches m;
  if (text.empty()) {
    m.push_back({0, 0, false});
    return m;
  }
  if (needle.empty()) {
    m.push_back({0, text.size(), false});
    return m;
  }
  size_t prev = 0, pos = 0;
  while ((pos = text.find(needle, pos)) != std::string_view::npos) {
    if (prev != pos) m.push_back({prev, pos, false});
    m.push_back({pos, pos + needle.size(), true});
    pos += needle.size();
    prev = pos;
  }
  if (prev != text.size()) m.push_back({prev, text.size(), false});
  return m;
}

Matches find_regex(const Regex& re, std::string_view text) {
  Matches m;
  if (text.empty()) {
    m.push_back({0, 0, false});
    return m;
  }
  std::vector<std::pair<size_t, size_t>> found;
  re.find_all(text, found);
  size_t prev = 0;
  for (auto [s, e] : found) {
    if (prev != s) m.push_back({prev, s, false});
    m.push_back({s, e, true});
    prev = e;
  }
  if (prev != text.size()) m.push_back({prev, text.size(), false});
  return m;
}

void invert(Matches& m) {
  for (auto& x : m) x.is_match = !x.is_match;
}

NormalizedString::NormalizedString(std::string_view text, size_t base) : norm_(text), original_start_(base) {
  align_.resize(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t len = utf8_len(static_cast<unsigned char>(text[i]));
    for (size_t k = 0; k < len && i + k < text.size(); ++k)
      align_[i + k] = {static_cast<uint32_t>(base + i), static_cast<uint32_t>(base + i + len)};
    i += len;
  }
}

void NormalizedString::check_growth(size_t new_size) const {
  const size_t original = align_.empty() ? 0 : align_.back().end - std::min(align_.back().end, align_.front().start);
  const size_t limit = original * kMaxGrowth + kGrowthSlack;
  if (new_size > limit)
    throw Error(ErrorKind::kInvalidInput, "tokenizer normalization would turn " + std::to_string(original) +
                                              " bytes of text into " + std::to_string(new_size) + " bytes (more than " +
                                              std::to_string(kMaxGrowth) + " times as many): refusing the tokenizer's "
                                              "Replace/Precompiled/Prepend rules for this text");
}

void NormalizedString::transform(const std::vector<std::pair<char32_t, int>>& dest) {
  std::string n;
  std::vector<Align> a;
  n.reserve(norm_.size());
  a.reserve(align_.size());
  size_t offset = 0;  // byte position in the old normalized string
  size_t new_size = 0;  // known before anything is built
  for (auto [c, change] : dest) new_size += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  check_growth(new_size);
  for (auto [c, change] : dest) {
    Align al;
    if (change > 0) {
      al = offset < 1 ? Align{0, 0} : align_[offset - 1];
      if (offset < 1 && !align_.empty()) al = {align_[0].start, align_[0].start};
    } else {
      al = offset < align_.size() ? align_[offset] : (align_.empty() ? Align{0, 0} : align_.back());
      // the replaced char
      if (offset < norm_.size()) offset += utf8_len(static_cast<unsigned char>(norm_[offset]));
      for (int k = 0; k < -change && offset < norm_.size(); ++k)
        offset += utf8_len(static_cast<unsigned char>(norm_[offset]));
    }
    size_t before = n.size();
    append_utf8(n, c);
    a.insert(a.end(), n.size() - before, al);
  }
  norm_ = std::move(n);
  align_ = std::move(a);
}

void NormalizedString::prepend(std::string_view s) {
  if (norm_.empty()) return;
  check_growth(norm_.size() + s.size());
  Align al = align_[0];
  norm_.insert(0, s);
  align_.insert(align_.begin(), s.size(), al);
}

void NormalizedString::replace(const Matches& matches, std::string_view content) {
  bool any = false;
  for (auto& m : matches) any |= m.is_match;
  if (!any) return;
  size_t new_size = 0;  // known before anything is built
  for (auto& m : matches) new_size += m.is_match ? content.size() : m.end - m.start;
  check_growth(new_size);
  std::string n;
  std::vector<Align> a;
  n.reserve(norm_.size());
  a.reserve(align_.size());
  for (auto& m : matches) {
    if (!m.is_match) {
      n.append(norm_, m.start, m.end - m.start);
      a.insert(a.end(), align_.begin() + m.start, align_.begin() + m.end);
    } else {
      Align al = m.end >= 1 ? align_[m.end - 1] : Align{0, 0};
      n.append(content);
      a.insert(a.end(), content.size(), al);
    }
  }
  norm_ = std::move(n);
  align_ = std::move(a);
}

void NormalizedString::lstrip() {
  size_t i = 0;
  while (i < norm_.size()) {
    size_t len;
    char32_t c = decode_utf8(norm_, i, &len);
    if (!is_whitespace(c)) break;
    i += len;
  }
  if (i) {
    if (i < norm_.size()) original_start_ = align_[i].start;
    norm_.erase(0, i);
    align_.erase(align_.begin(), align_.begin() + i);
  }
}

void NormalizedString::rstrip() {
  size_t end = norm_.size();
  while (end > 0) {
    size_t s = end - 1;
    while (s > 0 && (static_cast<unsigned char>(norm_[s]) & 0xC0) == 0x80) --s;
    size_t len;
    char32_t c = decode_utf8(norm_, s, &len);
    if (!is_whitespace(c)) break;
    end = s;
  }
  norm_.resize(end);
  align_.resize(end);
}

NormalizedString NormalizedString::slice(size_t start, size_t end) const {
  NormalizedString r;
  r.norm_.assign(norm_, start, end - start);
  r.align_.assign(align_.begin() + start, align_.begin() + end);
  r.original_start_ = end > start ? align_[start].start : original_start_;
  return r;
}

void NormalizedString::split(const Matches& matches, SplitBehavior behavior,
                             std::vector<NormalizedString>& out) const {
  // (start, end, remove)
  std::vector<Match> splits;
  splits.reserve(matches.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (auto m : matches) splits.push_back({m.start, m.end, false});
      break;
    case SplitBehavior::kRemoved:
      splits = matches;
      break;
    case SplitBehavior::kContiguous: {
      bool prev = false;
      for (auto m : matches) {
        if (m.is_match == prev && !splits.empty()) splits.back().end = m.end;
        else splits.push_back({m.start, m.end, false});
        prev = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool prev = false;
      for (auto m : matches) {
        if (m.is_match && !prev && !splits.empty()) splits.back().end = m.end;
        else splits.push_back({m.start, m.end, false});
        prev = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev = false;
      for (auto it = matches.rbegin(); it != matches.rend(); ++it) {
        if (it->is_match && !prev && !splits.empty()) splits.back().start = it->start;
        else splits.push_back({it->start, it->end, false});
        prev = it->is_match;
      }
      std::reverse(splits.begin(), splits.end());
      break;
    }
  }
  for (auto& s : splits) {
    if (s.is_match || s.end == s.start) continue;  // removed or empty
    out.push_back(slice(s.start, s.end));
  }
}

}  // namespace autolm::tokenizer_detail
