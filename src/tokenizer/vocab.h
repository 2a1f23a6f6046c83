// Token <-> id table shared by the models: all token strings stored back to back in one
// buffer, looked up by string_view through an open-addressing hash table (no per-token
// allocation, so loading a 262k-token vocab is a few memcpy's and one table fill).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autolm/error.h"

namespace autolm::tokenizer_detail {

inline uint64_t hash_bytes(std::string_view s) noexcept {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  if (n) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0x94D049BB133111EBull;
  }
  h ^= h >> 32;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return static_cast<size_t>(hash_bytes(s)); }
};

// Many short strings stored back to back (a token list, merge halves).
class StringTable {
 public:
  void add(std::string_view s) {
    chars_.append(s);
    ends_.push_back(chars_.size());
  }
  void reserve(size_t n, size_t bytes) {
    ends_.reserve(n);
    chars_.reserve(bytes);
  }
  size_t size() const { return ends_.size(); }
  size_t bytes() const { return chars_.size(); }
  std::string_view operator[](size_t i) const {
    size_t b = i ? ends_[i - 1] : 0;
    return std::string_view(chars_).substr(b, ends_[i] - b);
  }
  std::string take_chars() { return std::move(chars_); }
  std::vector<size_t> take_ends() { return std::move(ends_); }

 private:
  std::string chars_;
  std::vector<size_t> ends_;
};

class Vocab {
 public:
  // tokens[i] has id ids[i]; ids may be sparse. A token listed twice keeps its last id; two
  // tokens sharing an id are refused. The table by id is sized by the largest id, so ids must
  // stay below max_id_for(ids.size()): an id of 2^31-1 in a small vocab is an error naming
  // the token, not a 16 GB table.
  void build(StringTable&& tokens, const std::vector<int32_t>& ids, const std::string& source) {
    const int64_t id_limit = max_id_for(ids.size());
    int32_t max_id = -1;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0)
        throw Error(ErrorKind::kInvalidInput, source + ": negative token id " + std::to_string(ids[i]) + " for \"" +
                                                  std::string(tokens[i]) + "\"");
      if (ids[i] > id_limit)
        throw Error(ErrorKind::kInvalidInput, source + ": id " + std::to_string(ids[i]) + " of token \"" +
                                                  std::string(tokens[i]) + "\" is out of range (a vocab of " +
                                                  std::to_string(ids.size()) + " tokens may use ids up to " +
                                                  std::to_string(id_limit) + ")");
      max_id = std::max(max_id, ids[i]);
    }
    std::vector<size_t> ends = tokens.take_ends();
    chars_ = tokens.take_chars();
    views_.assign(static_cast<size_t>(max_id + 1), std::string_view());
    present_.assign(static_cast<size_t>(max_id + 1), false);
    size_t cap = 16;
    while (cap < ids.size() * 2) cap <<= 1;
    slots_.assign(cap, Slot{0, 0, 0, -1});
    mask_ = cap - 1;
    size_ = 0;
    auto view = [&](size_t i) {
      size_t b = i ? ends[i - 1] : 0;
      return std::string_view(chars_).substr(b, ends[i] - b);
    };
    constexpr size_t kAhead = 16;  // slots are filled in random order: fetch them ahead
    uint64_t hashes[kAhead];
    for (size_t i = 0; i < std::min(kAhead, ids.size()); ++i) prefetch_slot(hashes[i] = hash_bytes(view(i)));
    for (size_t i = 0; i < ids.size(); ++i) {
      std::string_view t = view(i);
      if (present_[ids[i]] && views_[ids[i]] != t)
        throw Error(ErrorKind::kInvalidInput, source + ": tokens \"" + std::string(views_[ids[i]]) + "\" and \"" +
                                                  std::string(t) + "\" have the same id " + std::to_string(ids[i]));
      views_[ids[i]] = t;
      present_[ids[i]] = true;
      uint64_t h = hashes[i % kAhead];
      if (i + kAhead < ids.size()) prefetch_slot(hashes[i % kAhead] = hash_bytes(view(i + kAhead)));
      size_t b = t.data() - chars_.data();
      Slot* e = &slots_[h & mask_];
      while (e->id >= 0 && !matches(*e, t, h)) e = &slots_[(e - slots_.data() + 1) & mask_];
      if (e->id < 0) ++size_;
      *e = Slot{static_cast<uint32_t>(b), static_cast<uint32_t>(t.size()), static_cast<uint32_t>(h >> 32), ids[i]};
    }
  }
  // Same, from (token, id) pairs.
  void build(std::vector<std::pair<std::string, int32_t>>&& entries, const std::string& source) {
    StringTable t;
    std::vector<int32_t> ids;
    ids.reserve(entries.size());
    for (auto& e : entries) {
      t.add(e.first);
      ids.push_back(e.second);
    }
    build(std::move(t), ids, source);
  }
  // The largest id a vocab of n tokens may use: dense ids with room for gaps (reserved or
  // removed tokens), bounded so the table by id stays proportional to the file.
  static int64_t max_id_for(size_t n) { return std::min<int64_t>(INT32_MAX, int64_t(n) * 2 + 65536); }
  std::optional<int32_t> find(std::string_view s) const { return find(s, hash_bytes(s)); }
  std::optional<int32_t> find(std::string_view s, uint64_t h) const {  // h = hash_bytes(s)
    if (slots_.empty()) return std::nullopt;
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].id < 0) return std::nullopt;
      if (matches(slots_[i], s, h)) return slots_[i].id;
    }
  }
  // Bulk loading: fetch the slot of hash h, later the token it likely holds, before find(s, h).
  void prefetch_slot(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }
  void prefetch_token(uint64_t h) const {
    if (slots_.empty()) return;
    for (size_t i = h & mask_; slots_[i].id >= 0; i = (i + 1) & mask_)
      if (slots_[i].tag == static_cast<uint32_t>(h >> 32)) return __builtin_prefetch(chars_.data() + slots_[i].off);
  }
  // nullptr when out of range or unused.
  const std::string_view* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= views_.size() || !present_[id]) return nullptr;
    return &views_[id];
  }
  int64_t size() const { return size_; }

 private:
  struct Slot {  // a token in chars_ and its id (-1: empty slot); tag = high hash bits
    uint32_t off, len, tag;
    int32_t id;
  };
  bool matches(const Slot& e, std::string_view s, uint64_t h) const {
    return e.tag == static_cast<uint32_t>(h >> 32) && e.len == s.size() &&
           std::memcmp(chars_.data() + e.off, s.data(), s.size()) == 0;
  }

  std::string chars_;
  std::vector<std::string_view> views_;  // by id, into chars_
  std::vector<bool> present_;
  std::vector<Slot> slots_;  // open addressing, linear probing
  size_t mask_ = 0;
  int64_t size_ = 0;
};

// (id, id) -> (rank, merged id), open addressing: BPE's merge table.
class MergeMap {
 public:
  struct Value {
    uint32_t rank;
    int32_t id;
  };
  void reserve(size_t n) {
    size_t cap = 16;
    shift_ = 60;
    while (cap < n + n / 2) cap <<= 1, --shift_;
    entries_.assign(cap, Entry{kEmpty, {0, 0}});
    mask_ = cap - 1;
  }
  void prefetch(int32_t a, int32_t b) const { __builtin_prefetch(&entries_[slot(key(a, b))]); }
  void set(int32_t a, int32_t b, Value v) {  // a later merge of the same pair wins, as in HF
    uint64_t k = key(a, b);
    size_t i = slot(k);
    while (entries_[i].key != kEmpty && entries_[i].key != k) i = (i + 1) & mask_;
    entries_[i] = Entry{k, v};
  }
  const Value* find(int32_t a, int32_t b) const {
    if (entries_.empty()) return nullptr;
    uint64_t k = key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      if (entries_[i].key == k) return &entries_[i].value;
      if (entries_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  struct Entry {
    uint64_t key;
    Value value;
  };
  static constexpr uint64_t kEmpty = ~0ull;  // ids are non-negative int32, so never a key
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint32_t>(b); }
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_); }

  std::vector<Entry> entries_;
  size_t mask_ = 0;
  int shift_ = 60;
};

}  // namespace autolm::tokenizer_detail
