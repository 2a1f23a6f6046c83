// KVCache::reorder (beam search): any mapping, including swaps, duplicates and identity;
// KVCache::truncate (assisted generation's rollback).
#include <gtest/gtest.h>

#include "autolm/error.h"
#include "nn/kv_cache.h"

namespace autolm {
namespace {

TEST(KVCache, ReorderMovesRowsValidityAndPositions) {
  const int layers = 2, batch = 4, heads = 2, max_len = 5, dim = 3;
  KVCache cache(layers, batch, heads, max_len, dim);
  cache.append(3);
  auto value = [](int l, int b, int h, int t, int d, bool v) { return float(v * 10000 + l * 1000 + b * 100 + h * 10 + t) + d * 0.1f; };
  for (int l = 0; l < layers; ++l)
    for (int b = 0; b < batch; ++b)
      for (int h = 0; h < heads; ++h)
        for (int t = 0; t < 3; ++t)
          for (int d = 0; d < dim; ++d) {
            cache.k(l, b, h)[t * dim + d] = value(l, b, h, t, d, false);
            cache.v(l, b, h)[t * dim + d] = value(l, b, h, t, d, true);
          }
  for (int b = 0; b < batch; ++b) {
    cache.key_valid(b)[0] = b % 2;
    cache.next_position(b) = 7 + b;
  }
  for (std::vector<int> src : {std::vector<int>{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 2, 0, 3}, {3, 3, 3, 3}}) {
    // Expected values follow the composition of all reorders so far.
    std::vector<int> origin(batch);
    for (int b = 0; b < batch; ++b) origin[b] = int(cache.k(0, b, 0)[0] - 0) / 100 % 10;
    cache.reorder(src);
    for (int l = 0; l < layers; ++l)
      for (int b = 0; b < batch; ++b)
        for (int h = 0; h < heads; ++h)
          for (int t = 0; t < 3; ++t)
            for (int d = 0; d < dim; ++d) {
              ASSERT_FLOAT_EQ(cache.k(l, b, h)[t * dim + d], value(l, origin[src[b]], h, t, d, false));
              ASSERT_FLOAT_EQ(cache.v(l, b, h)[t * dim + d], value(l, origin[src[b]], h, t, d, true));
            }
    for (int b = 0; b < batch; ++b) {
      EXPECT_EQ(cache.key_valid(b)[0], origin[src[b]] % 2);
      EXPECT_EQ(cache.next_position(b), 7 + origin[src[b]]);
    }
  }
}

TEST(KVCache, TruncateForgetsPositionsAndRewindsPositionIds) {
  KVCache cache(1, 2, 1, 8, 2);
  cache.append(5);
  // Row 0: all real; row 1: two padding slots first (left padding).
  for (int t = 0; t < 5; ++t) {
    cache.key_valid(0)[t] = 1;
    cache.key_valid(1)[t] = t >= 2;
  }
  cache.next_position(0) = 5;
  cache.next_position(1) = 3;
  cache.truncate(3);
  EXPECT_EQ(cache.length(), 3);
  EXPECT_EQ(cache.next_position(0), 3);
  EXPECT_EQ(cache.next_position(1), 1);
  for (int t = 3; t < 8; ++t) EXPECT_EQ(cache.key_valid(0)[t] + cache.key_valid(1)[t], 0);
  EXPECT_EQ(cache.key_valid(1)[2], 1);
  EXPECT_EQ(cache.append(2), 3);  // appends where the truncation left off
  cache.truncate(5);              // no-op at the current length
  EXPECT_EQ(cache.length(), 5);
  cache.truncate(0);
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.next_position(0), 0);
  EXPECT_THROW(cache.truncate(1), Error);
  EXPECT_THROW(cache.truncate(-1), Error);
}

}  // namespace
}  // namespace autolm
