#include "models/decoder_state.h"

#include <string>

namespace autolm {

int begin_causal_step(CausalState& s, std::span<const int32_t> ids, std::span<const int32_t> attention_mask,
                      int seq_len, int64_t vocab_size) {
  const int batch = s.batch_size();
  if (seq_len <= 0 || int64_t(ids.size()) != int64_t(batch) * seq_len)
    throw Error(ErrorKind::kInvalidInput, "decode: got " + std::to_string(ids.size()) + " ids for batch " +
                                              std::to_string(batch) + " × seq_len " + std::to_string(seq_len));
  if (!attention_mask.empty() && attention_mask.size() != ids.size())
    throw Error(ErrorKind::kInvalidInput, "decode: attention_mask size differs from input_ids size");
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size)
      throw Error(ErrorKind::kInvalidInput, "input id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                                std::to_string(vocab_size) + ")");
  const int start = s.cache.append(seq_len);
  s.positions.resize(ids.size());
  for (int b = 0; b < batch; ++b) {
    uint8_t* valid = s.cache.key_valid(b);
    const int at = s.cache.ragged() ? s.cache.row_start(b) : start;  // a ragged view's rows each at their own length
    for (int t = 0; t < seq_len; ++t) {
      const bool real = attention_mask.empty() || attention_mask[b * seq_len + t] != 0;
      valid[at + t] = real;
      s.positions[b * seq_len + t] = real ? s.cache.next_position(b)++ : 1;
    }
  }
  return start;
}

}  // namespace autolm
