// Per-request state of encoder-decoder models: the decoder's self-attention KV cache, and the
// cross-attention K/V of every decoder layer computed once per encoder input and shared by all
// decoder rows (beams) of that input.
#pragma once

#include <string>
#include <vector>

#include "autolm/model.h"
#include "core/tensor.h"
#include "nn/attention.h"
#include "nn/cross_attention.h"
#include "nn/kv_cache.h"
#include "nn/workspace.h"

namespace autolm {

class Seq2SeqState : public DecodeState {
 public:
  Seq2SeqState(int num_decoder_layers, int batch, int rows_per_input, int num_heads, int max_len, int head_dim)
      : self_cache(num_decoder_layers, batch, num_heads, max_len, head_dim),
        cross(num_decoder_layers),
        rows_per_input(rows_per_input), num_heads(num_heads), head_dim(head_dim) {
    if (rows_per_input < 1 || batch % rows_per_input != 0)
      throw Error(ErrorKind::kInvalidInput, "a seq2seq state of " + std::to_string(batch) + " rows cannot hold groups of " +
                                                std::to_string(rows_per_input) + " rows per input");
  }
  int batch_size() const override { return self_cache.batch(); }
  int length() const override { return self_cache.length(); }
  void reorder(std::span<const int> src) override;
  void truncate(int length) override { self_cache.truncate(length); }  // cross kept

  // Encoder row that decoder row `row` reads.
  int input_of(int row) const { return row / rows_per_input; }
  bool encoded() const { return src_len > 0; }

  KVSource self_source(const int& layer);   // decoder self-attention over the cache

  KVCache self_cache;
  std::vector<CrossKV> cross;                         // per decoder layer: K/V of the encoder output
  std::vector<uint8_t> src_valid;                     // (num_inputs, src_len) encoder attention_mask
  int rows_per_input, num_heads, head_dim;
  int num_inputs = 0, src_len = 0;
  Buffer hidden, x, q, k, v, attn, ff, gate, logits, last, bias;
  Workspace ws;                   // the nn blocks' scratch
  std::vector<int64_t> positions;  // (batch*seq_len) position ids of the current call
};

// Validates encode()'s arguments and records the encoder mask; returns the number of inputs.
int begin_encode(Seq2SeqState& s, std::span<const int32_t> ids, std::span<const int32_t> mask, int src_len,
                 int64_t vocab_size);
// Validates decode()'s arguments for a seq2seq model and reserves cache room; returns the
// cache index of the first new token.
int begin_seq2seq_step(Seq2SeqState& s, std::span<const int32_t> ids, std::span<const int32_t> mask, int seq_len,
                       int64_t vocab_size);

}  // namespace autolm
