#include "nn/kv_cache.h"

#include <algorithm>

#include <cstring>
#include <string>

#include "autolm/error.h"
#include "core/memory.h"
#include "core/check.h"

namespace autolm {

void scatter_heads(const float* x, int rows, int seq_len, int heads, int head_dim, float* cache, int capacity, int start) {
  for (int b = 0; b < rows; ++b)
    for (int t = 0; t < seq_len; ++t)
      for (int h = 0; h < heads; ++h) {
        const float* src = x + ((int64_t(b) * seq_len + t) * heads + h) * head_dim;
        float* dst = cache + ((int64_t(b) * heads + h) * capacity + start + t) * head_dim;
        std::copy(src, src + head_dim, dst);
      }
}

KVCache::KVCache(int num_layers, int batch, int num_kv_heads, int max_len, int head_dim)
    : num_layers_(num_layers), batch_(batch), kv_heads_(num_kv_heads), max_len_(max_len), head_dim_(head_dim) {
  if (batch <= 0 || max_len <= 0)
    throw Error(ErrorKind::kInvalidInput, "KV cache needs a positive batch and length, got " + std::to_string(batch) +
                                              " × " + std::to_string(max_len));
  // A request for an absurd length must fail cleanly here, not be killed by the OOM killer
  // while the cache is zeroed.
  const double bytes = (2.0 * num_layers * num_kv_heads * head_dim * sizeof(float) + 1) * double(batch) * max_len;
  check_allocation(bytes, "a KV cache for " + std::to_string(batch) + " rows × " + std::to_string(max_len) + " tokens",
                   "lower max_new_tokens / max_length");
  const size_t per_layer = size_t(batch) * num_kv_heads * max_len * head_dim;
  k_.assign(num_layers, std::vector<float>(per_layer));
  v_.assign(num_layers, std::vector<float>(per_layer));
  valid_.assign(size_t(batch) * max_len, 0);
  next_pos_.assign(batch, 0);
}

KVSource KVCache::source(const int& layer) {
  KVSource kv;
  kv.k = [this, &layer](int b, int h) { return k(layer, b, h); };
  kv.v = [this, &layer](int b, int h) { return v(layer, b, h); };
  kv.key_valid = [this](int b) { return key_valid(b); };
  if (ragged()) kv.row_start = row_start_.data();
  return kv;
}

int KVCache::length() const {
  if (!ragged()) return length_;
  int longest = 0;
  for (const KVCache* c : spanned_) longest = std::max(longest, c->length());
  return longest;
}

void KVCache::bind_rows(std::span<const KVRow> rows) {
  rows_.assign(rows.begin(), rows.end());
  spanned_.clear();
  row_group_.assign(rows_.size(), 0);
  row_start_.assign(rows_.size(), 0);
  for (size_t i = 0; i < rows_.size(); ++i) {
    KVCache* c = rows_[i].cache;
    AUTOLM_CHECK(c && !c->ragged() && rows_[i].row >= 0 && rows_[i].row < c->batch(), "ragged KV row out of range");
    AUTOLM_CHECK(c->num_layers_ == num_layers_ && c->kv_heads_ == kv_heads_ && c->head_dim_ == head_dim_,
                 "ragged KV rows of a differently shaped cache");
    auto it = std::find(spanned_.begin(), spanned_.end(), c);
    row_group_[i] = int(it - spanned_.begin());
    if (it == spanned_.end()) spanned_.push_back(c);
  }
  // Every row of a spanned cache is present: they all advance on append().
  for (size_t g = 0; g < spanned_.size(); ++g)
    AUTOLM_CHECK(std::count(row_group_.begin(), row_group_.end(), int(g)) == spanned_[g]->batch(),
                 "a ragged view must hold every row of the caches it spans");
}

int KVCache::append(int n) {
  if (ragged()) {
    for (KVCache* c : spanned_)  // all or nothing
      if (n < 0 || int64_t(c->length_) + n > c->max_len_)
        throw Error(ErrorKind::kInvalidInput, "sequence of " + std::to_string(int64_t(c->length_) + n) +
                                                  " tokens exceeds the state's max_length " + std::to_string(c->max_len_));
    for (size_t i = 0; i < rows_.size(); ++i) row_start_[i] = rows_[i].cache->length_;
    for (KVCache* c : spanned_) c->append(n);
    return 0;
  }
  if (n < 0 || int64_t(length_) + n > max_len_)
    throw Error(ErrorKind::kInvalidInput, "sequence of " + std::to_string(int64_t(length_) + n) +
                                              " tokens exceeds the state's max_length " + std::to_string(max_len_));
  const int start = length_;
  length_ += n;
  return start;
}

void KVCache::truncate(int length) {
  AUTOLM_CHECK(!ragged(), "truncate of a ragged KV view");
  if (length < 0 || length > length_)
    throw Error(ErrorKind::kInvalidInput, "KV cache truncation to " + std::to_string(length) +
                                              " tokens: the cache holds " + std::to_string(length_));
  // K/V values past `length` are left as they are: attention reads only the first length_
  // positions, and the next append overwrites them.
  for (int b = 0; b < batch_; ++b) {
    uint8_t* valid = key_valid(b);
    for (int t = length; t < length_; ++t) {
      next_pos_[b] -= valid[t];
      valid[t] = 0;
    }
  }
  length_ = length;
}

void KVCache::reorder(std::span<const int> src) {
  AUTOLM_CHECK(!ragged(), "reorder of a ragged KV view");
  AUTOLM_CHECK(int(src.size()) == batch_, "reorder needs one source per row");
  for (int s : src) AUTOLM_CHECK(s >= 0 && s < batch_, "reorder source row out of range");
  // Beams that keep their own row cost nothing: only rows that change are written, and only
  // rows read by another row are saved first. Only the filled prefix of each head is copied.
  const size_t filled = size_t(length_) * head_dim_;
  std::vector<int>& slot = slot_tmp_;  // row → index of its saved copy, or -1
  slot.assign(batch_, -1);
  int saved = 0;
  for (int i = 0; i < batch_; ++i)
    if (src[i] != i && slot[src[i]] < 0) slot[src[i]] = saved++;
  if (saved == 0 && std::all_of(src.begin(), src.end(), [i = 0](int s) mutable { return s == i++; })) return;
  const size_t row_floats = size_t(kv_heads_) * max_len_ * head_dim_;
  tmp_.resize(size_t(saved) * row_floats);
  for (int l = 0; l < num_layers_; ++l) {
    for (auto* buf : {&k_[l], &v_[l]}) {
      for (int r = 0; r < batch_; ++r)
        if (slot[r] >= 0)
          for (int h = 0; h < kv_heads_; ++h)
            std::memcpy(tmp_.data() + slot[r] * row_floats + size_t(h) * max_len_ * head_dim_,
                        buf->data() + offset(r, h), filled * sizeof(float));
      for (int i = 0; i < batch_; ++i)
        if (src[i] != i)
          for (int h = 0; h < kv_heads_; ++h)
            std::memcpy(buf->data() + offset(i, h),
                        tmp_.data() + slot[src[i]] * row_floats + size_t(h) * max_len_ * head_dim_,
                        filled * sizeof(float));
    }
  }
  valid_tmp_.resize(valid_.size());
  pos_tmp_.resize(batch_);
  for (int i = 0; i < batch_; ++i) {
    std::memcpy(valid_tmp_.data() + size_t(i) * max_len_, valid_.data() + size_t(src[i]) * max_len_, max_len_);
    pos_tmp_[i] = next_pos_[src[i]];
  }
  valid_.swap(valid_tmp_);
  next_pos_.swap(pos_tmp_);
}

}  // namespace autolm
