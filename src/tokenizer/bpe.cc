// BPE model (HF tokenizers models/bpe): rank-ordered merges applied with a priority queue,
// byte_fallback, unk/fuse_unk, continuing_subword_prefix, end_of_word_suffix, ignore_merges,
// and a bounded word cache.
#include <algorithm>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/vocab.h"

namespace autolm::tokenizer_detail {
namespace {

struct Piece {
  int32_t id;
  uint32_t len;  // bytes of the original word
};

class Bpe : public Model {
 public:
  Bpe(const json& j, const std::string& source) {
    const json& vocab = jfield(j, "vocab", source);
    if (!vocab.is_object()) throw Error(ErrorKind::kInvalidInput, source + ": BPE vocab must be an object");
    std::vector<std::pair<std::string, int32_t>> entries;
    entries.reserve(vocab.size());
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      if (!it.value().is_number_integer())
        throw Error(ErrorKind::kInvalidInput, source + ": BPE vocab id of \"" + it.key() + "\" is not an integer");
      entries.emplace_back(it.key(), it.value().get<int32_t>());
    }
    vocab_.build(std::move(entries), source);
    unk_ = jstring(j, "unk_token", source, "");
    prefix_ = jstring(j, "continuing_subword_prefix", source, "");
    suffix_ = jstring(j, "end_of_word_suffix", source, "");
    fuse_unk_ = jbool(j, "fuse_unk", false);
    byte_fallback_ = jbool(j, "byte_fallback", false);
    ignore_merges_ = jbool(j, "ignore_merges", false);
    if (j.contains("dropout") && j["dropout"].is_number() && j["dropout"].get<double>() > 0.0)
      throw Error(ErrorKind::kUnsupported, source + ": BPE dropout is not supported");
    if (byte_fallback_) {
      static const char* hex = "0123456789ABCDEF";
      for (int b = 0; b < 256; ++b) {
        std::string t = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
        auto id = vocab_.find(t);
        byte_ids_[b] = id ? *id : -1;
      }
    }
    if (!unk_.empty()) {
      auto id = vocab_.find(unk_);
      unk_id_ = id ? *id : -1;
    }
    const json& merges = jfield(j, "merges", source);
    merges_.reserve(merges.size() * 2);
    uint32_t rank = 0;
    for (const auto& m : merges) {
      std::string a, b;
      if (m.is_string()) {
        const std::string& s = m.get_ref<const std::string&>();
        size_t sp = s.find(' ');
        if (sp == std::string::npos)
          throw Error(ErrorKind::kInvalidInput, source + ": BPE merge \"" + s + "\" is not \"a b\"");
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      } else {
        throw Error(ErrorKind::kInvalidInput, source + ": BPE merge " + m.dump() + " is not a pair");
      }
      add_merge(a, b, rank++, source);
    }
  }

  void add_merge(const std::string& a, const std::string& b, uint32_t rank, const std::string& source) {
    auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (!ia || !ib)
      throw Error(ErrorKind::kInvalidInput, source + ": BPE merge token \"" + (!ia ? a : b) + "\" is not in the vocab");
    std::string merged = a + (b.compare(0, prefix_.size(), prefix_) == 0 ? b.substr(prefix_.size()) : b);
    auto in = vocab_.find(merged);
    if (!in) throw Error(ErrorKind::kInvalidInput, source + ": BPE merge result \"" + merged + "\" is not in the vocab");
    merges_[key(*ia, *ib)] = {rank, *in};
  }

  void tokenize(std::string_view word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (ignore_merges_) {
      if (auto id = vocab_.find(word)) {
        out.push_back({*id, std::string(word), 0, word.size()});
        return;
      }
    }
    std::vector<Piece> pieces;
    bool cached = false;
    if (word.size() < kMaxCachedLen) {
      std::shared_lock lock(cache_mu_);
      auto it = cache_.find(word);
      if (it != cache_.end()) {
        pieces = it->second;
        cached = true;
      }
    }
    if (!cached) {
      merge_word(word, pieces);
      if (word.size() < kMaxCachedLen) {
        std::unique_lock lock(cache_mu_);
        if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), pieces);
      }
    }
    size_t off = 0;
    for (const auto& p : pieces) {
      out.push_back({p.id, *vocab_.token(p.id), off, off + p.len});
      off += p.len;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  const std::string* id_to_token(int32_t id) const override { return vocab_.token(id); }
  int64_t vocab_size() const override { return vocab_.size(); }

 private:
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }

  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t len;
  };
  struct Merge {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator<(const Merge& o) const {  // max-heap on "smaller rank, then smaller pos"
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };

  void merge_word(std::string_view w, std::vector<Piece>& out) const {
    std::vector<Symbol> syms;
    syms.reserve(w.size());
    auto add = [&](int32_t id, uint32_t len) {
      int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back({id, n - 1, n + 1, len});
    };
    bool have_unk = false;
    int32_t unk_id = 0;
    uint32_t unk_len = 0;
    std::string buf;
    for (size_t i = 0; i < w.size();) {
      size_t len = utf8_len(static_cast<unsigned char>(w[i]));
      if (i + len > w.size()) len = w.size() - i;
      bool first = i == 0, last = i + len >= w.size();
      std::optional<int32_t> id;
      if ((!first && !prefix_.empty()) || (last && !suffix_.empty())) {
        buf.clear();
        if (!first) buf += prefix_;
        buf.append(w.substr(i, len));
        if (last) buf += suffix_;
        id = vocab_.find(buf);
      } else {
        id = vocab_.find(w.substr(i, len));
      }
      if (id) {
        if (have_unk) {
          add(unk_id, unk_len);
          have_unk = false;
        }
        add(*id, static_cast<uint32_t>(len));
      } else {
        bool done = false;
        if (byte_fallback_) {
          std::string_view s = (!first && !prefix_.empty()) || (last && !suffix_.empty()) ? std::string_view(buf)
                                                                                         : w.substr(i, len);
          bool all = true;
          for (unsigned char c : s) all &= byte_ids_[c] >= 0;
          if (all) {
            if (have_unk) {  // HF keeps a pending unk across byte tokens; flush order as HF does
            }
            for (unsigned char c : s) add(byte_ids_[c], 1);
            done = true;
          }
        }
        if (!done && !unk_.empty()) {
          if (unk_id_ < 0) throw Error(ErrorKind::kInvalidInput, "BPE unk_token \"" + unk_ + "\" is not in the vocab");
          if (have_unk && fuse_unk_) {
            unk_len += static_cast<uint32_t>(len);
          } else {
            if (have_unk) add(unk_id, unk_len);
            have_unk = true;
            unk_id = unk_id_;
            unk_len = static_cast<uint32_t>(len);
          }
        }
      }
      i += len;
    }
    if (have_unk) add(unk_id, unk_len);
    if (!syms.empty()) syms.back().next = -1;

    std::priority_queue<Merge> queue;
    for (size_t i = 0; i + 1 < syms.size(); ++i) {
      auto it = merges_.find(key(syms[i].id, syms[i + 1].id));
      if (it != merges_.end()) queue.push({it->second.first, static_cast<int32_t>(i), it->second.second});
    }
    while (!queue.empty()) {
      Merge top = queue.top();
      queue.pop();
      Symbol& cur = syms[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      int32_t next_pos = cur.next;
      Symbol right = syms[next_pos];
      auto it = merges_.find(key(cur.id, right.id));
      if (it == merges_.end() || it->second.second != top.new_id) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      syms[next_pos].len = 0;
      if (right.next >= 0 && static_cast<size_t>(right.next) < syms.size()) syms[right.next].prev = top.pos;
      if (cur.prev >= 0) {
        auto p = merges_.find(key(syms[cur.prev].id, cur.id));
        if (p != merges_.end()) queue.push({p->second.first, cur.prev, p->second.second});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < syms.size()) {
        auto n = merges_.find(key(cur.id, syms[cur.next].id));
        if (n != merges_.end()) queue.push({n->second.first, top.pos, n->second.second});
      }
    }
    out.clear();
    for (const auto& s : syms)
      if (s.len) out.push_back({s.id, s.len});
  }

  static constexpr size_t kMaxCachedLen = 256;
  static constexpr size_t kCacheCapacity = 10000;

  Vocab vocab_;
  std::unordered_map<uint64_t, std::pair<uint32_t, int32_t>> merges_;
  std::string unk_, prefix_, suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<Piece>, StringViewHash, std::equal_to<>> cache_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const json& j, const std::string& source) { return std::make_unique<Bpe>(j, source); }

}  // namespace autolm::tokenizer_detail
