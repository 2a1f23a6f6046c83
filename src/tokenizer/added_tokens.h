// Added tokens (tokenizer.json "added_tokens"): found in the text before the model runs,
// leftmost-longest like HF's aho-corasick matcher, honouring lstrip/rstrip/single_word.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/vocab.h"

namespace autolm::tokenizer_detail {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false, normalized = false, lstrip = false, rstrip = false, single_word = false;
};

// A piece of text: [start, end) bytes, id >= 0 when it is an added token.
struct AddedSplit {
  size_t start, end;
  int32_t id;
};

class AddedVocabulary {
 public:
  // Registers tokens; `normalizer` (may be null) normalizes the contents of normalized tokens.
  void build(std::vector<AddedToken> tokens, const Normalizer* normalizer);
  bool empty() const { return tokens_.empty(); }
  // Splits `text` on the tokens of one set (normalized or not), as HF find_matches.
  void split(std::string_view text, bool normalized_set, std::vector<AddedSplit>& out) const;
  const AddedToken* by_id(int32_t id) const;
  std::optional<int32_t> by_content(std::string_view content) const;
  bool is_special_content(std::string_view content) const {
    return special_contents_.count(std::string(content)) > 0;
  }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Trie {
    std::unordered_map<uint64_t, uint32_t> edges;
    std::vector<int32_t> terminal{-1};  // token index per node
    bool first_byte[256] = {};
    bool empty = true;
    void insert(std::string_view s, int32_t token_index);
  };
  Trie non_normalized_, normalized_;
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>> by_content_;
  std::unordered_set<std::string> special_contents_;
};

}  // namespace autolm::tokenizer_detail
