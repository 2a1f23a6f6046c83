// TokenVocabulary (autolm/structured_output.h): token bytes, their byte trie in preorder, and
// the plain-string tables that decide most tokens inside a JSON string without a search.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autolm/structured_output.h"
#include "generate/grammar/matcher.h"

namespace autolm {

class TokenVocabulary {
 public:
  // A token made of plain string bytes (no '"', '\\', control bytes) and at most this many code
  // points is "plain": decided by the tables. Others go through the trie.
  static constexpr uint32_t kMaxPlainChars = 64;
  static constexpr size_t kMaxTokenBytes = 1024;  // longer tokens are never allowed

  // One trie node in preorder: the subtree of node i is [i, end).
  struct TrieNode {
    uint32_t end;
    uint32_t tok_lo, tok_hi;  // tokens whose bytes end here: ids[tok_lo, tok_hi)
    uint16_t depth;           // 1 for a first byte
    uint8_t byte;
  };
  struct Trie {
    std::vector<TrieNode> nodes;
    std::vector<int32_t> ids;
    uint16_t max_depth = 0;
  };

  explicit TokenVocabulary(const std::vector<std::optional<std::string>>& token_bytes);

  size_t size() const { return bytes_.size(); }
  // Empty for tokens a constraint never allows.
  const std::string& bytes(int32_t id) const { return bytes_[id]; }
  bool usable(int32_t id) const { return id >= 0 && size_t(id) < bytes_.size() && !bytes_[id].empty(); }

  const Trie& full_trie() const { return full_; }
  const Trie& nonplain_trie() const { return nonplain_; }
  // Bitset words over ids: plain tokens valid from UTF-8 state s.
  const std::vector<uint64_t>& plain_from(uint8_t s) const { return plain_[s]; }
  // Bitset words: plain tokens of at most k code points (k <= kMaxPlainChars).
  const std::vector<uint64_t>& plain_at_most(uint32_t k) const { return at_most_[k]; }
  size_t words() const { return (bytes_.size() + 63) / 64; }

 private:
  static Trie build(std::vector<int32_t> ids, const std::vector<std::string>& bytes);

  std::vector<std::string> bytes_;
  Trie full_, nonplain_;
  std::array<std::vector<uint64_t>, grammar::kUtf8States> plain_;
  std::vector<std::vector<uint64_t>> at_most_;
};

}  // namespace autolm
