// Per-request state of decoder-only models: the KV cache plus activation scratch that is sized
// on the first call and reused (no allocation per generated token).
#pragma once

#include <vector>

#include "autolm/model.h"
#include "core/tensor.h"
#include "nn/kv_cache.h"
#include "nn/workspace.h"

namespace autolm {

class CausalState : public DecodeState {
 public:
  CausalState(int num_layers, int batch, int num_kv_heads, int max_len, int head_dim)
      : cache(num_layers, batch, num_kv_heads, max_len, head_dim), positions(batch) {}
  int batch_size() const override { return cache.batch(); }
  int length() const override { return cache.length(); }
  void reorder(std::span<const int> src) override { cache.reorder(src); }
  void truncate(int length) override { cache.truncate(length); }

  KVCache cache;
  std::vector<int64_t> positions;  // (batch * seq_len) position ids of the current call
  Workspace ws;                    // the blocks' intermediate activations
  Buffer hidden, x, residual, logits, last;  // (batch*seq_len, hidden_size) streams; LM head rows
};

// Appends seq_len tokens to `state`: marks their cache slots valid per `attention_mask` and
// assigns position ids as transformers' generate does (cumsum(mask) - 1, 1 for padding).
// Returns the cache index of the first new token (a ragged view: 0, each row's is row_start()).
int begin_causal_step(CausalState& state, std::span<const int32_t> ids, std::span<const int32_t> attention_mask,
                      int seq_len, int64_t vocab_size);

}  // namespace autolm
