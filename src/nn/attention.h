// Scaled dot-product attention of new queries over cached keys/values, with padding, causal,
// sliding-window and additive relative-position masks. Covers decoder self-attention,
// encoder self-attention and cross-attention.
#pragma once

#include <cstdint>
#include <functional>

#include "core/tensor.h"

namespace autolm {

struct AttentionSpec {
  int num_heads = 0;
  int num_kv_heads = 0;  // GQA: query head h reads kv head h / (num_heads / num_kv_heads)
  int head_dim = 0;
  float scale = 1.f;        // multiplies q·k (1/sqrt(head_dim), query_pre_attn_scalar^-0.5, T5: 1)
  bool causal = true;       // key position ≤ query position
  // > 0, causal: key kept only if query_pos - key_pos < sliding_window; not causal (encoders):
  // only if |query_pos - key_pos| <= sliding_window (create_bidirectional_sliding_window_mask).
  int sliding_window = 0;
  // Optional additive bias (T5 relative positions): bias(h, key_pos - query_pos) =
  // rel_bias[h * rel_bias_stride + rel_bias_offset + key_pos - query_pos].
  const float* rel_bias = nullptr;
  int64_t rel_bias_stride = 0;
  int64_t rel_bias_offset = 0;
  float softcap = 0.f;      // > 0: scores = tanh(scores / softcap) * softcap (Gemma 2 attn_logit_softcapping)
  // Optional (num_heads) learned sink logits (gpt-oss): each head's softmax also runs over its
  // sink, which then takes its share of the probability and is dropped.
  const float* sinks = nullptr;
};

// Where the keys and values of one query row live.
struct KVSource {
  // (max_len, head_dim) block of K and V for (row, kv_head).
  std::function<const float*(int row, int kv_head)> k, v;
  std::function<const uint8_t*(int row)> key_valid;  // (k_len) 1 = real token
  // Ragged batches (rows of different requests, KVCache::bind_rows): (batch) where each row's
  // queries start; row b then has keys 0 … row_start[b] + q_len - 1. nullptr: every row alike.
  const int* row_start = nullptr;
};

// q: (batch, q_len, num_heads*head_dim); query t of every row sits at position q_start + t;
// keys are positions 0 … k_len-1 (ragged, kv.row_start: row b's queries at row_start[b] + t,
// its keys 0 … row_start[b] + q_len - 1, k_len at least the longest). out: (batch, q_len,
// num_heads*head_dim). Each row's result is the same as when it is attended alone.
void attention(const AttentionSpec& spec, int batch, int q_len, int q_start, const float* q, const KVSource& kv,
               int k_len, float* out);

}  // namespace autolm
