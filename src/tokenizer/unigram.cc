// Unigram model (HF tokenizers models/unigram, after sentencepiece's unigram_model.cc):
// Viterbi best path over a byte trie of pieces, unk penalty, fuse_unk, byte_fallback.
#include <limits>

#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/vocab.h"

namespace autolm::tokenizer_detail {
namespace {

constexpr double kUnkPenalty = 10.0;

class Unigram : public Model {
 public:
  Unigram(const json& j, ModelTables& t, const std::string& source) {
    require_vocab(j, t, ModelTables::Vocab::kArray, "Unigram", source);
    scores_ = std::move(t.scores);
    min_score_ = std::numeric_limits<double>::max();
    for (double score : scores_) min_score_ = std::min(min_score_, score);
    std::vector<int32_t> ids(scores_.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      ids[i] = static_cast<int32_t>(i);
      insert_trie(t.tokens[i], ids[i]);
    }
    vocab_.build(std::move(t.tokens), ids, source);
    if (j.contains("unk_id") && j["unk_id"].is_number_integer()) {
      unk_id_ = jtoken_id(j["unk_id"], "Unigram unk_id", source);
      if (unk_id_ < 0 || unk_id_ >= static_cast<int32_t>(scores_.size()))
        throw Error(ErrorKind::kInvalidInput, source + ": Unigram unk_id out of range");
    }
    byte_fallback_ = jbool(j, "byte_fallback", false);
    fuse_unk_ = true;
  }

  void tokenize(std::string_view s, std::vector<Token>& out) const override {
    if (s.empty()) return;
    struct Node {
      int32_t id = -1;
      double score = 0;
      int64_t starts_at = -1;
    };
    size_t n = s.size();
    std::vector<Node> best(n + 1);
    double unk_score = min_score_ - kUnkPenalty;
    size_t start = 0;
    while (start < n) {
      double base = best[start].score;
      size_t mblen = utf8_len(static_cast<unsigned char>(s[start]));
      bool has_single = false;
      uint32_t node = 0;
      for (size_t k = start; k < n; ++k) {
        auto it = trie_.find((static_cast<uint64_t>(node) << 8) | static_cast<unsigned char>(s[k]));
        if (it == trie_.end()) break;
        node = it->second;
        int32_t id = trie_value_[node];
        if (id < 0) continue;
        size_t end = k + 1;
        Node& t = best[end];
        double cand = base + scores_[id];
        if (t.starts_at < 0 || cand > t.score) {
          t.score = cand;
          t.starts_at = static_cast<int64_t>(start);
          t.id = id;
        }
        if (!has_single && end - start == mblen) has_single = true;
      }
      if (!has_single) {
        if (unk_id_ < 0) throw Error(ErrorKind::kInvalidInput, "Unigram model has no unk_id for an unknown character");
        Node& t = best[std::min(n, start + mblen)];
        double cand = base + unk_score;
        if (t.starts_at < 0 || cand > t.score) {
          t.score = cand;
          t.starts_at = static_cast<int64_t>(start);
          t.id = unk_id_;
        }
      }
      start += mblen;
    }
    // Back-track, fusing consecutive unknowns.
    std::vector<std::pair<size_t, size_t>> pieces;  // reversed
    size_t end = n;
    size_t unk_end = 0;
    bool in_unk = false;
    while (end > 0) {
      const Node& node = best[end];
      size_t st = static_cast<size_t>(node.starts_at);
      if (fuse_unk_ && unk_id_ >= 0 && node.id == unk_id_) {
        if (!in_unk) {
          in_unk = true;
          unk_end = end;
        }
      } else {
        if (in_unk) {
          pieces.emplace_back(end, unk_end);
          in_unk = false;
        }
        pieces.emplace_back(st, end);
      }
      end = st;
    }
    if (in_unk) pieces.emplace_back(0, unk_end);
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      std::string_view piece = s.substr(it->first, it->second - it->first);
      auto id = vocab_.find(piece);
      if (id) {
        out.push_back({*id, std::string(piece), it->first, it->second});
        continue;
      }
      if (byte_fallback_) {
        std::vector<Token> bytes;
        static const char* hex = "0123456789ABCDEF";
        bool ok = true;
        for (unsigned char c : piece) {
          std::string t = std::string("<0x") + hex[c >> 4] + hex[c & 15] + ">";
          auto bid = vocab_.find(t);
          if (!bid) {
            ok = false;
            break;
          }
          bytes.push_back({*bid, t, it->first, it->second});
        }
        if (ok) {
          for (auto& b : bytes) out.push_back(std::move(b));
          continue;
        }
      }
      if (unk_id_ < 0) throw Error(ErrorKind::kInvalidInput, "Unigram model has no unk_id for an unknown piece");
      out.push_back({unk_id_, std::string(piece), it->first, it->second});
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (auto t = vocab_.token(id)) return *t;
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_.size(); }

 private:
  void insert_trie(std::string_view piece, int32_t id) {
    if (trie_value_.empty()) trie_value_.push_back(-1);
    uint32_t node = 0;
    for (unsigned char c : piece) {
      uint64_t k = (static_cast<uint64_t>(node) << 8) | c;
      auto it = trie_.find(k);
      if (it == trie_.end()) {
        uint32_t nn = static_cast<uint32_t>(trie_value_.size());
        trie_value_.push_back(-1);
        trie_.emplace(k, nn);
        node = nn;
      } else {
        node = it->second;
      }
    }
    if (trie_value_[node] < 0) trie_value_[node] = id;  // first occurrence wins, as token_to_ids
  }

  Vocab vocab_;
  std::vector<double> scores_;
  std::unordered_map<uint64_t, uint32_t> trie_;
  std::vector<int32_t> trie_value_;
  double min_score_ = 0;
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false, fuse_unk_ = true;
};

}  // namespace

std::unique_ptr<Model> make_unigram(const json& j, ModelTables& t, const std::string& source) {
  return std::make_unique<Unigram>(j, t, source);
}

}  // namespace autolm::tokenizer_detail
