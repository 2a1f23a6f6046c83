// The JSON constraint: per row, the matcher's branches after the row's bytes so far; its mask is
// every token whose bytes the branches accept. Inside a string (most steps of a typical output)
// the plain tokens come from the vocabulary's tables and only the others are searched; elsewhere
// one preorder pass over the token trie skips every subtree whose prefix is rejected.
#include <limits>
#include <string>

#include "autolm/error.h"
#include "generate/grammar/builder.h"
#include "generate/grammar/json_schema.h"
#include "generate/grammar/matcher.h"
#include "generate/grammar/vocabulary.h"

namespace autolm {
namespace {

using grammar::BranchList;
using grammar::Matcher;

struct Compiled {
  grammar::Grammar grammar;
  Matcher matcher;
  std::shared_ptr<const TokenVocabulary> vocab;
  Compiled(grammar::Grammar g, std::shared_ptr<const TokenVocabulary> v)
      : grammar(std::move(g)), matcher(grammar), vocab(std::move(v)) {}
};

class JsonState : public ConstraintState {
 public:
  JsonState(std::shared_ptr<const Compiled> c, std::span<const int64_t> eos) : c_(std::move(c)), eos_(eos.begin(), eos.end()) {
    c_->matcher.start(branches_);
  }
  JsonState(const JsonState& o) : c_(o.c_), eos_(o.eos_), branches_(o.branches_), done_(o.done_) {}

  std::unique_ptr<ConstraintState> clone() const override { return std::make_unique<JsonState>(*this); }

  void mask(std::span<float> scores) override {
    const TokenVocabulary& v = *c_->vocab;
    allowed_.assign((scores.size() + 63) / 64, 0);
    if (!done_ && !branches_.empty()) {
      bool all_plain = true;
      for (size_t i = 0; i < branches_.size() && all_plain; ++i) {
        uint8_t s;
        uint32_t room;
        all_plain = c_->matcher.in_plain_string(branches_[i], s, room);
      }
      if (all_plain) {
        const size_t words = std::min(allowed_.size(), v.words());
        for (size_t i = 0; i < branches_.size(); ++i) {
          uint8_t s;
          uint32_t room;
          c_->matcher.in_plain_string(branches_[i], s, room);
          const auto& from = v.plain_from(s);
          if (room >= TokenVocabulary::kMaxPlainChars) {
            for (size_t w = 0; w < words; ++w) allowed_[w] |= from[w];
          } else {
            const auto& short_enough = v.plain_at_most(room);
            for (size_t w = 0; w < words; ++w) allowed_[w] |= from[w] & short_enough[w];
          }
        }
        search(v.nonplain_trie(), scores.size());
      } else {
        search(v.full_trie(), scores.size());
      }
    }
    // EOS: once the text is a complete value (or the row can go nowhere: it ends).
    bool complete = done_ || branches_.empty();
    for (size_t i = 0; i < branches_.size() && !complete; ++i) complete = c_->matcher.accepting(branches_[i]);
    if (complete)
      for (int64_t e : eos_)
        if (e >= 0 && size_t(e) < scores.size()) allowed_[size_t(e) >> 6] |= uint64_t(1) << (e & 63);
    bool any = false;
    for (uint64_t w : allowed_) any = any || w != 0;
    if (!any)
      throw Error(ErrorKind::kInvalidInput,
                  "structured output: no token of the vocabulary can continue the output here (the tokenizer has no "
                  "token for the bytes the JSON grammar needs next, e.g. T5's vocabulary has no '{')");
    remask(scores);
  }

  void remask(std::span<float> scores) const override {
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    const size_t n = scores.size();
    for (size_t w = 0; w < allowed_.size(); ++w) {
      const uint64_t bits = allowed_[w];
      if (bits == ~uint64_t(0)) continue;
      const size_t base = w * 64, end = std::min(n, base + 64);
      for (size_t i = base; i < end; ++i)
        if (!((bits >> (i - base)) & 1)) scores[i] = kNegInf;
    }
  }

  void advance(int32_t token) override {
    if (done_) return;
    for (int64_t e : eos_)
      if (e == token) {
        done_ = true;
        return;
      }
    if (!c_->vocab->usable(token)) {
      branches_.clear();  // not a token the constraint allows: the row can only end
      return;
    }
    for (char ch : c_->vocab->bytes(token)) {
      c_->matcher.feed_all(branches_, static_cast<uint8_t>(ch), scratch_);
      std::swap(branches_, scratch_);
      if (branches_.empty()) return;
    }
  }

 private:
  // Marks every token of `trie` that the current branches accept, walking the trie in preorder:
  // levels_[d] holds the branches after the first d bytes of the current path.
  void search(const TokenVocabulary::Trie& trie, size_t width) {
    if (levels_.size() < size_t(trie.max_depth) + 1) levels_.resize(size_t(trie.max_depth) + 1);
    levels_[0].clear();
    for (size_t i = 0; i < branches_.size(); ++i) levels_[0].add().copy_from(branches_[i]);
    const auto& nodes = trie.nodes;
    const Matcher& m = c_->matcher;
    for (size_t i = 0; i < nodes.size();) {
      const TokenVocabulary::TrieNode& node = nodes[i];
      BranchList& here = levels_[node.depth];
      m.feed_all(levels_[node.depth - 1], node.byte, here);
      if (here.empty()) {
        i = node.end;
        continue;
      }
      for (uint32_t t = node.tok_lo; t < node.tok_hi; ++t) {
        const int32_t id = trie.ids[t];
        if (size_t(id) < width) allowed_[size_t(id) >> 6] |= uint64_t(1) << (id & 63);
      }
      ++i;
    }
  }

  std::shared_ptr<const Compiled> c_;
  std::vector<int64_t> eos_;
  BranchList branches_;
  bool done_ = false;  // EOS was chosen
  // Scratch (not copied by clone): the last mask, the search's levels.
  std::vector<uint64_t> allowed_;
  BranchList scratch_;
  std::vector<BranchList> levels_;
};

class JsonConstraint : public LogitsConstraint {
 public:
  explicit JsonConstraint(std::shared_ptr<const Compiled> c) : c_(std::move(c)) {}
  std::unique_ptr<ConstraintState> start(std::span<const int64_t> eos_token_id) const override {
    return std::make_unique<JsonState>(c_, eos_token_id);
  }

 private:
  std::shared_ptr<const Compiled> c_;
};

}  // namespace

std::shared_ptr<const LogitsConstraint> grammar::grammar_constraint(grammar::Grammar g,
                                                                    std::shared_ptr<const TokenVocabulary> v) {
  if (!v) throw Error(ErrorKind::kInvalidInput, "structured output: no token vocabulary given");
  return std::make_shared<JsonConstraint>(std::make_shared<const Compiled>(std::move(g), std::move(v)));
}

std::shared_ptr<const LogitsConstraint> json_schema_constraint(const nlohmann::ordered_json& schema,
                                                               std::shared_ptr<const TokenVocabulary> vocabulary) {
  return grammar::grammar_constraint(grammar::compile_json_schema(schema), std::move(vocabulary));
}

std::shared_ptr<const LogitsConstraint> json_object_constraint(std::shared_ptr<const TokenVocabulary> vocabulary) {
  return grammar::grammar_constraint(grammar::json_object_grammar(), std::move(vocabulary));
}

}  // namespace autolm
