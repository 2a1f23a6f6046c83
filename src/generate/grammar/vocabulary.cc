// TokenVocabulary: built once per tokenizer (a 150k vocabulary: ~1 MB of token bytes, ~330k
// trie nodes).
#include "generate/grammar/vocabulary.h"

#include <algorithm>
#include <numeric>

namespace autolm {
namespace {

void set_bit(std::vector<uint64_t>& bits, int32_t id) { bits[size_t(id) >> 6] |= uint64_t(1) << (id & 63); }

bool plain_byte(uint8_t c) { return c != '"' && c != '\\' && c >= 0x20; }

}  // namespace

TokenVocabulary::TokenVocabulary(const std::vector<std::optional<std::string>>& token_bytes) {
  bytes_.resize(token_bytes.size());
  std::vector<int32_t> all, nonplain;
  for (size_t i = 0; i < token_bytes.size(); ++i)
    if (token_bytes[i] && !token_bytes[i]->empty() && token_bytes[i]->size() <= kMaxTokenBytes) {
      bytes_[i] = *token_bytes[i];
      all.push_back(static_cast<int32_t>(i));
    }
  for (auto& p : plain_) p.assign(words(), 0);
  at_most_.assign(kMaxPlainChars + 1, std::vector<uint64_t>(words(), 0));
  for (int32_t id : all) {
    const std::string& t = bytes_[id];
    uint32_t chars = 0;
    bool plain = true;
    for (char ch : t) {
      const uint8_t c = static_cast<uint8_t>(ch);
      plain = plain && plain_byte(c);
      chars += (c & 0xC0) != 0x80;
    }
    if (!plain || chars > kMaxPlainChars) {
      nonplain.push_back(id);
      continue;
    }
    for (uint8_t s = 0; s < grammar::kUtf8States; ++s) {
      uint8_t state = s;
      for (char ch : t) {
        state = grammar::utf8_step(state, static_cast<uint8_t>(ch));
        if (state == grammar::kUtf8Reject) break;
      }
      // A token starting inside a character must not begin with a lead byte, and vice versa:
      // utf8_step rejects both.
      if (state != grammar::kUtf8Reject) set_bit(plain_[s], id);
    }
    for (uint32_t k = chars; k <= kMaxPlainChars; ++k) set_bit(at_most_[k], id);
  }
  full_ = build(std::move(all), bytes_);
  nonplain_ = build(std::move(nonplain), bytes_);
}

TokenVocabulary::Trie TokenVocabulary::build(std::vector<int32_t> ids, const std::vector<std::string>& bytes) {
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t x, int32_t y) { return bytes[x] < bytes[y]; });
  Trie t;
  t.ids = ids;
  std::vector<uint32_t> path;  // node index per depth - 1
  const std::string* prev = nullptr;
  for (uint32_t k = 0; k < ids.size(); ++k) {
    const std::string& s = bytes[ids[k]];
    size_t common = 0;
    if (prev) {
      const size_t n = std::min(prev->size(), s.size());
      while (common < n && (*prev)[common] == s[common]) ++common;
    }
    while (path.size() > common) {
      t.nodes[path.back()].end = static_cast<uint32_t>(t.nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(t.nodes.size()));
      t.nodes.push_back(TrieNode{0, 0, 0, static_cast<uint16_t>(d + 1), static_cast<uint8_t>(s[d])});
    }
    TrieNode& end = t.nodes[path.back()];
    if (end.tok_hi == 0) end.tok_lo = k;  // sorted: a node's tokens (equal bytes) are adjacent
    end.tok_hi = k + 1;
    t.max_depth = std::max<uint16_t>(t.max_depth, static_cast<uint16_t>(s.size()));
    prev = &s;
  }
  while (!path.empty()) {
    t.nodes[path.back()].end = static_cast<uint32_t>(t.nodes.size());
    path.pop_back();
  }
  return t;
}

std::shared_ptr<const TokenVocabulary> make_token_vocabulary(const std::vector<std::optional<std::string>>& token_bytes) {
  return std::make_shared<const TokenVocabulary>(token_bytes);
}

}  // namespace autolm
