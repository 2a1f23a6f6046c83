// Logits processors and sampling warpers, one function per transformers class in
// generation/logits_process.py, each on one row of scores [vocab] (in place). The math and the
// order (LogitsPipeline) follow transformers 5.17 `_get_logits_processor`.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "autolm/generation.h"

namespace autolm::gen {

inline constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// RepetitionPenaltyLogitsProcessor: for every token in ids (once per distinct token), a negative
// score is multiplied by penalty and a positive one divided by it.
void repetition_penalty(std::span<float> scores, std::span<const int32_t> ids, float penalty);
// NoRepeatNGramLogitsProcessor: bans tokens that would repeat an n-gram of ids.
void no_repeat_ngram(std::span<float> scores, std::span<const int32_t> ids, int n);
// EncoderNoRepeatNGramLogitsProcessor: bans tokens completing an n-gram of the encoder input.
void encoder_no_repeat_ngram(std::span<float> scores, std::span<const int32_t> ids,
                             std::span<const int32_t> encoder_ids, int n);
// NoBadWordsLogitsProcessor: single-token entries always banned; longer ones when ids end with
// their prefix. `bad_words` must already exclude [eos] entries (see filter_bad_words).
void no_bad_words(std::span<float> scores, std::span<const int32_t> ids,
                  const std::vector<std::vector<int64_t>>& bad_words);
std::vector<std::vector<int64_t>> filter_bad_words(const std::vector<std::vector<int64_t>>& bad_words,
                                                   const std::vector<int64_t>& eos);
// MinLengthLogitsProcessor: EOS → -inf while cur_len < min_length.
void min_length(std::span<float> scores, int cur_len, int min_len, const std::vector<int64_t>& eos);
// MinNewTokensLengthLogitsProcessor: EOS → -inf while cur_len - prompt_len < min_new_tokens.
void min_new_tokens(std::span<float> scores, int cur_len, int prompt_len, int min_new,
                    const std::vector<int64_t>& eos);
// ForcedBOSTokenLogitsProcessor: at cur_len == 1 every score is -inf but bos's (0).
void forced_bos(std::span<float> scores, int cur_len, int64_t bos);
// ForcedEOSTokenLogitsProcessor: at cur_len == max_length - 1 only the EOS ids stay (0).
void forced_eos(std::span<float> scores, int cur_len, int max_length, const std::vector<int64_t>& eos);
// SuppressTokensLogitsProcessor.
void suppress(std::span<float> scores, const std::vector<int64_t>& tokens);
// SuppressTokensAtBeginLogitsProcessor: suppress when cur_len == begin_index.
void begin_suppress(std::span<float> scores, int cur_len, int begin_index, const std::vector<int64_t>& tokens);
// TemperatureLogitsWarper.
void temperature(std::span<float> scores, float t);
// TopKLogitsWarper: scores below the k-th largest → -inf (ties with it are kept).
void top_k(std::span<float> scores, int k, int min_tokens_to_keep);
// TopPLogitsWarper: drops the low tail whose cumulative probability is <= 1 - top_p.
void top_p(std::span<float> scores, float p, int min_tokens_to_keep);
// MinPLogitsWarper: drops tokens with probability < min_p * max probability.
void min_p(std::span<float> scores, float p, int min_tokens_to_keep);
// TypicalLogitsWarper.
void typical(std::span<float> scores, float mass, int min_tokens_to_keep);
// log_softmax in place (LogitNormalization; beam search's log_softmax).
void log_softmax(std::span<float> scores);
// softmax into out (float32 like torch; sums in double).
void softmax(std::span<const float> scores, std::span<float> out);

// What a processor needs to know about one row at one step.
struct RowView {
  std::span<const int32_t> ids;          // the row's tokens so far (without left padding)
  std::span<const int32_t> encoder_ids;  // seq2seq: this row's encoder input; causal: the prompt
};

// The configured chain, in transformers' order:
//   repetition_penalty, no_repeat_ngram, encoder_no_repeat_ngram, bad_words, min_length,
//   min_new_tokens, forced_bos, forced_eos, suppress_tokens, begin_suppress_tokens,
//   [do_sample: temperature, top_k, top_p, min_p, typical_p], renormalize (log_softmax).
class LogitsPipeline {
 public:
  // input_len: HF's input_ids_seq_length (padded prompt length; 1 for seq2seq).
  // max_length / min_length: resolved totals (same counting as cur_len).
  LogitsPipeline(const GenerationConfig& cfg, int input_len, int max_length, int min_length);
  // cur_len: HF's input_ids.shape[-1] (padded length, identical for all rows).
  void apply(std::span<float> scores, const RowView& row, int cur_len) const;
  bool empty() const { return steps_.empty(); }

 private:
  enum class Kind {
    kRepetition, kNoRepeatNgram, kEncoderNoRepeatNgram, kBadWords, kMinLength, kMinNewTokens,
    kForcedBos, kForcedEos, kSuppress, kBeginSuppress, kTemperature, kTopK, kTopP, kMinP, kTypical,
    kRenormalize
  };
  std::vector<Kind> steps_;
  GenerationConfig cfg_;
  std::vector<std::vector<int64_t>> bad_words_;
  int input_len_, max_length_, min_length_, begin_index_, min_keep_;
};

}  // namespace autolm::gen
