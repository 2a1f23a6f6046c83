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
  Bpe(const json& j, ModelTables& t, const std::string& source) {
    require_vocab(j, t, ModelTables::Vocab::kObject, "BPE", source);
    vocab_.build(std::move(t.tokens), t.ids, source);
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
        std::string tok = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
        auto id = vocab_.find(tok);
        byte_ids_[b] = id ? *id : -1;
      }
    }
    if (!unk_.empty()) {
      auto id = vocab_.find(unk_);
      unk_id_ = id ? *id : -1;
    }
    if (!t.has_merges) {
      if (jfield(j, "merges", source).is_null()) return;
      throw Error(ErrorKind::kInvalidInput, source + ": BPE merges must be a list");
    }
    // Ranks are the merges' positions; a pair listed twice keeps its last rank, as in HF.
    // Each merge is three lookups in the vocab (left, right, merged) and one insert: random
    // memory accesses, so they are pipelined: hash and fetch the slot 3k merges ahead, the
    // token 2k ahead, look up k ahead, insert now.
    constexpr size_t k = 16, kRing = 64;
    struct Ahead {
      std::string merged;
      uint64_t h[3];
      int32_t a, b;
      MergeMap::Value v;
    };
    std::vector<Ahead> ring(kRing);
    size_t n = t.merges.size() / 2;
    merges_.reserve(n);
    auto part = [&](size_t i, int p) { return p == 2 ? std::string_view(ring[i % kRing].merged) : t.merges[2 * i + p]; };
    for (size_t i = 0; i < n + 3 * k; ++i) {
      if (i < n) {
        Ahead& e = ring[i % kRing];
        std::string_view b = t.merges[2 * i + 1];
        e.merged.assign(t.merges[2 * i]);
        e.merged.append(b.substr(b.compare(0, prefix_.size(), prefix_) == 0 ? prefix_.size() : 0));
        for (int p = 0; p < 3; ++p) vocab_.prefetch_slot(e.h[p] = hash_bytes(part(i, p)));
      }
      if (i >= k && i - k < n)
        for (uint64_t h : ring[(i - k) % kRing].h) vocab_.prefetch_token(h);
      if (i >= 2 * k && i - 2 * k < n) {
        size_t r = i - 2 * k;
        Ahead& e = ring[r % kRing];
        std::optional<int32_t> id[3];
        for (int p = 0; p < 3; ++p) {
          id[p] = vocab_.find(part(r, p), e.h[p]);
          if (!id[p])
            throw Error(ErrorKind::kInvalidInput, source + ": BPE merge " + (p == 2 ? "result" : "token") + " \"" +
                                                      std::string(part(r, p)) + "\" is not in the vocab");
        }
        e.a = *id[0];
        e.b = *id[1];
        e.v = {static_cast<uint32_t>(r), *id[2]};
        merges_.prefetch(e.a, e.b);
      }
      if (i >= 3 * k && i - 3 * k < n) {
        const Ahead& e = ring[(i - 3 * k) % kRing];
        merges_.set(e.a, e.b, e.v);
      }
    }
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
      out.push_back({p.id, std::string(*vocab_.token(p.id)), off, off + p.len});
      off += p.len;
    }
  }

  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (auto t = vocab_.token(id)) return *t;
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_.size(); }

 private:
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
    for (size_t i = 0; i + 1 < syms.size(); ++i)
      if (auto m = merges_.find(syms[i].id, syms[i + 1].id)) queue.push({m->rank, static_cast<int32_t>(i), m->id});
    while (!queue.empty()) {
      Merge top = queue.top();
      queue.pop();
      Symbol& cur = syms[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      int32_t next_pos = cur.next;
      Symbol right = syms[next_pos];
      auto m = merges_.find(cur.id, right.id);
      if (!m || m->id != top.new_id) continue;
      cur.id = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      syms[next_pos].len = 0;
      if (right.next >= 0 && static_cast<size_t>(right.next) < syms.size()) syms[right.next].prev = top.pos;
      if (cur.prev >= 0) {
        if (auto p = merges_.find(syms[cur.prev].id, cur.id)) queue.push({p->rank, cur.prev, p->id});
      }
      if (cur.next >= 0 && static_cast<size_t>(cur.next) < syms.size()) {
        if (auto n = merges_.find(cur.id, syms[cur.next].id)) queue.push({n->rank, top.pos, n->id});
      }
    }
    out.clear();
    for (const auto& s : syms)
      if (s.len) out.push_back({s.id, s.len});
  }

  static constexpr size_t kMaxCachedLen = 256;
  static constexpr size_t kCacheCapacity = 10000;

  Vocab vocab_;
  MergeMap merges_;
  std::string unk_, prefix_, suffix_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  int32_t byte_ids_[256];
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<Piece>, StringViewHash, std::equal_to<>> cache_;
};

}  // namespace

std::unique_ptr<Model> make_bpe(const json& j, ModelTables& t, const std::string& source) {
  return std::make_unique<Bpe>(j, t, source);
}

}  // namespace autolm::tokenizer_detail
