// Self-attention KV cache of a decoder, per request: for every layer K and V laid out
// (batch, num_kv_heads, max_len, head_dim), plus which cached positions are real tokens.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nn/attention.h"

namespace autolm {

// Copies x: (rows, seq_len, heads*head_dim) into a (rows, heads, capacity, head_dim) cache at
// positions [start, start + seq_len): the layout attention() reads keys and values in.
void scatter_heads(const float* x, int rows, int seq_len, int heads, int head_dim, float* cache, int capacity, int start);

class KVCache {
 public:
  KVCache(int num_layers, int batch, int num_kv_heads, int max_len, int head_dim);

  int batch() const { return batch_; }
  int max_len() const { return max_len_; }
  int length() const { return length_; }

  // K/V of (layer, row, kv head): (max_len, head_dim).
  float* k(int layer, int row, int head) { return k_[layer].data() + offset(row, head); }
  float* v(int layer, int row, int head) { return v_[layer].data() + offset(row, head); }
  const float* k(int layer, int row, int head) const { return k_[layer].data() + offset(row, head); }
  const float* v(int layer, int row, int head) const { return v_[layer].data() + offset(row, head); }

  // key_valid(row): (max_len) 1 where the cached position holds a real token, 0 for padding.
  uint8_t* key_valid(int row) { return valid_.data() + int64_t(row) * max_len_; }
  // Next position id per row (counts real tokens only, as transformers derives position_ids
  // from the attention mask).
  int64_t& next_position(int row) { return next_pos_[row]; }

  // Reserves n more positions (throws Error if max_len would be exceeded) and returns the first.
  int append(int n);

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
};

}  // namespace autolm
