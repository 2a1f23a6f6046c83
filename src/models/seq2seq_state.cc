#include "models/seq2seq_state.h"

#include <algorithm>
#include <string>

namespace autolm {

void Seq2SeqState::reorder(std::span<const int> src) {
  for (size_t i = 0; i < src.size(); ++i)
    if (input_of(int(i)) != input_of(src[i]))
      throw Error(ErrorKind::kInvalidInput, "reorder: decoder row " + std::to_string(i) + " cannot take row " +
                                                std::to_string(src[i]) + ", which belongs to another input");
  self_cache.reorder(src);
}

KVSource Seq2SeqState::self_source(const int& layer) { return self_cache.source(layer); }

static void check_ids(std::span<const int32_t> ids, int64_t vocab_size, const char* what) {
  for (int32_t id : ids)
    if (id < 0 || id >= vocab_size)
      throw Error(ErrorKind::kInvalidInput, std::string(what) + " id " + std::to_string(id) +
                                                " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
}

int begin_encode(Seq2SeqState& s, std::span<const int32_t> ids, std::span<const int32_t> mask, int src_len,
                 int64_t vocab_size) {
  if (src_len <= 0 || ids.size() % src_len != 0)
    throw Error(ErrorKind::kInvalidInput, "encode: " + std::to_string(ids.size()) + " input ids do not form rows of length " +
                                              std::to_string(src_len));
  const int64_t n = int64_t(ids.size() / src_len);
  if (n * s.rows_per_input != s.batch_size())
    throw Error(ErrorKind::kInvalidInput, "encode: " + std::to_string(n) + " inputs × " + std::to_string(s.rows_per_input) +
                                              " rows each do not match the state's " + std::to_string(s.batch_size()) + " rows");
  if (!mask.empty() && mask.size() != ids.size())
    throw Error(ErrorKind::kInvalidInput, "encode: attention_mask size differs from input_ids size");
  check_ids(ids, vocab_size, "input");
  s.num_inputs = int(n);
  s.src_len = src_len;
  s.src_valid.assign(ids.size(), 1);
  for (size_t i = 0; i < mask.size(); ++i) s.src_valid[i] = mask[i] != 0;
  return int(n);
}

int begin_seq2seq_step(Seq2SeqState& s, std::span<const int32_t> ids, std::span<const int32_t> mask, int seq_len,
                       int64_t vocab_size) {
  if (!s.encoded()) throw Error(ErrorKind::kInvalidInput, "decode: call encode() before decoding a seq2seq model");
  if (seq_len <= 0 || int64_t(ids.size()) != int64_t(s.batch_size()) * seq_len)
    throw Error(ErrorKind::kInvalidInput, "decode: got " + std::to_string(ids.size()) + " ids for batch " +
                                              std::to_string(s.batch_size()) + " × seq_len " + std::to_string(seq_len));
  check_ids(ids, vocab_size, "decoder input");
  const int start = s.self_cache.append(seq_len);
  for (int b = 0; b < s.batch_size(); ++b) {
    uint8_t* valid = s.self_cache.key_valid(b);
    for (int t = 0; t < seq_len; ++t) valid[start + t] = mask.empty() || mask[b * seq_len + t] != 0;
  }
  return start;
}

}  // namespace autolm
