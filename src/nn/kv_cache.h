// Self-attention KV cache of a decoder, per request: for every layer K and V laid out
// (batch, num_kv_heads, max_len, head_dim), plus which cached positions are real tokens.
// A cache can also be a ragged view (bind_rows): its rows are then rows of other requests'
// caches, each with its own length and capacity, so that one forward pass steps them all
// (Model::decode_batch, the server's continuous batching).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nn/attention.h"

namespace autolm {

// Copies x: (rows, seq_len, heads*head_dim) into a (rows, heads, capacity, head_dim) cache at
// positions [start, start + seq_len): the layout attention() reads keys and values in.
void scatter_heads(const float* x, int rows, int seq_len, int heads, int head_dim, float* cache, int capacity, int start);

class KVCache;

// One row of a ragged view: row `row` of `cache`.
struct KVRow {
  KVCache* cache = nullptr;
  int row = 0;
};

class KVCache {
 public:
  KVCache(int num_layers, int batch, int num_kv_heads, int max_len, int head_dim);

  int batch() const { return ragged() ? int(rows_.size()) : batch_; }
  // Capacity of every row (own storage); a ragged view's rows each have their own (row_capacity).
  int max_len() const { return max_len_; }
  // Own storage: tokens appended so far. Ragged view: the longest row.
  int length() const;

  // K/V of (layer, row, kv head): (capacity, head_dim).
  float* k(int layer, int row, int head) {
    return ragged() ? rows_[row].cache->k(layer, rows_[row].row, head) : k_[layer].data() + offset(row, head);
  }
  float* v(int layer, int row, int head) {
    return ragged() ? rows_[row].cache->v(layer, rows_[row].row, head) : v_[layer].data() + offset(row, head);
  }
  const float* k(int layer, int row, int head) const { return const_cast<KVCache*>(this)->k(layer, row, head); }
  const float* v(int layer, int row, int head) const { return const_cast<KVCache*>(this)->v(layer, row, head); }

  // key_valid(row): (capacity) 1 where the cached position holds a real token, 0 for padding.
  uint8_t* key_valid(int row) {
    return ragged() ? rows_[row].cache->key_valid(rows_[row].row) : valid_.data() + int64_t(row) * max_len_;
  }
  // Next position id per row (counts real tokens only, as transformers derives position_ids
  // from the attention mask).
  int64_t& next_position(int row) {
    return ragged() ? rows_[row].cache->next_position(rows_[row].row) : next_pos_[row];
  }

  // Reserves n more positions of every row (throws Error if a row's capacity would be
  // exceeded, before anything is reserved) and returns the first. A ragged view appends n to
  // each cache it spans once and returns 0: each row's first new position is row_start(row).
  int append(int n);

  // Ragged view: row i becomes rows[i] (rows of one cache must all be present, as they advance
  // together). An empty span returns to the cache's own storage. The caches must outlive the
  // binding; reorder() and truncate() are refused while bound.
  void bind_rows(std::span<const KVRow> rows);
  bool ragged() const { return !rows_.empty(); }
  // Ragged view, after append(): where row `row`'s new tokens start, its capacity, and which of
  // the spanned caches it belongs to (0, 1, … in order of first appearance).
  int row_start(int row) const { return row_start_[row]; }
  int row_capacity(int row) const { return rows_[row].cache->max_len(); }
  int row_group(int row) const { return row_group_[row]; }

  // New row i = old row src[i] (beam search).
  void reorder(std::span<const int> src);

  // Forgets every position from `length` on (assisted generation's rollback of rejected draft
  // tokens, transformers' DynamicCache.crop): their slots become free and invalid, and each row's
  // next position id goes back by the real tokens dropped. 0 <= length <= length().
  void truncate(int length);

  // What attention() reads for the layer `layer` refers to (the caller advances it).
  KVSource source(const int& layer);

 private:
  int64_t offset(int row, int head) const { return (int64_t(row) * kv_heads_ + head) * max_len_ * head_dim_; }
  int num_layers_, batch_, kv_heads_, max_len_, head_dim_, length_ = 0;
  std::vector<std::vector<float>> k_, v_;  // per layer (batch, num_kv_heads, max_len, head_dim)
  std::vector<uint8_t> valid_;             // (batch, max_len)
  std::vector<int64_t> next_pos_;          // (batch)
  std::vector<float> tmp_;                 // reorder scratch: saved source rows
  std::vector<int> slot_tmp_;
  std::vector<uint8_t> valid_tmp_;
  std::vector<int64_t> pos_tmp_;
  // Ragged view (bind_rows): the rows, each row's start in the current call and group, the caches spanned.
  std::vector<KVRow> rows_;
  std::vector<int> row_start_, row_group_;
  std::vector<KVCache*> spanned_;
};

}  // namespace autolm
