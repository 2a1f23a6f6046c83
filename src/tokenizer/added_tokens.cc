// AddedVocabulary matching: a byte trie scanned leftmost-longest, then HF's single_word,
// lstrip and rstrip rules.
#include "tokenizer/added_tokens.h"

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {

void AddedVocabulary::Trie::insert(std::string_view s, int32_t token_index) {
  if (s.empty()) return;
  uint32_t node = 0;
  for (unsigned char c : s) {
    uint64_t k = (static_cast<uint64_t>(node) << 8) | c;
    auto it = edges.find(k);
    if (it == edges.end()) {
      uint32_t nn = static_cast<uint32_t>(terminal.size());
      terminal.push_back(-1);
      edges.emplace(k, nn);
      node = nn;
    } else {
      node = it->second;
    }
  }
  terminal[node] = token_index;
  first_byte[static_cast<unsigned char>(s[0])] = true;
  empty = false;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer) {
  tokens_ = std::move(tokens);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    by_id_[t.id] = i;
    by_content_[t.content] = t.id;
    if (t.special) special_contents_.insert(t.content);
    if (t.normalized && normalizer) {
      NormalizedString ns(t.content, 0);
      normalizer->normalize(ns);
      normalized_.insert(ns.get(), static_cast<int32_t>(i));
    } else if (t.normalized) {
      normalized_.insert(t.content, static_cast<int32_t>(i));
    } else {
      non_normalized_.insert(t.content, static_cast<int32_t>(i));
    }
  }
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::by_content(std::string_view content) const {
  auto it = by_content_.find(content);
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

namespace {
bool is_word_char(char32_t c) { return is_alphanumeric(c) || c == '_'; }
char32_t last_char(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t len;
  return decode_utf8(s, i, &len);
}
}  // namespace

void AddedVocabulary::split(std::string_view text, bool normalized_set, std::vector<AddedSplit>& out) const {
  const Trie& trie = normalized_set ? normalized_ : non_normalized_;
  if (trie.empty || text.empty()) {
    out.push_back({0, text.size(), -1});
    return;
  }
  size_t start_offset = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!trie.first_byte[static_cast<unsigned char>(text[i])]) {
      ++i;
      continue;
    }
    uint32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t k = i; k < text.size(); ++k) {
      auto it = trie.edges.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(text[k]));
      if (it == trie.edges.end()) break;
      node = it->second;
      if (trie.terminal[node] >= 0) {
        best = trie.terminal[node];
        best_end = k + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[best];
    size_t start = i, stop = best_end;
    i = best_end;  // the matcher resumes after this match whatever happens to it
    if (tok.single_word) {
      bool start_space = start == 0 || !is_word_char(last_char(text.substr(0, start)));
      bool stop_space = true;
      if (stop < text.size()) {
        size_t len;
        stop_space = !is_word_char(decode_utf8(text, stop, &len));
      }
      if (!start_space || !stop_space) continue;
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > start_offset) {
        size_t p = s - 1;
        while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
        size_t len;
        if (!is_whitespace(decode_utf8(text, p, &len))) break;
        s = p;
      }
      start = s;
    }
    if (tok.rstrip) {
      while (stop < text.size()) {
        size_t len;
        if (!is_whitespace(decode_utf8(text, stop, &len))) break;
        stop += len;
      }
      i = stop;
    }
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset != text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace autolm::tokenizer_detail
