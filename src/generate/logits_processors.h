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

// SequenceBiasLogitsProcessor (transformers 5.17): the biases of every sequence that applies are
// summed first (float32, in `bias` order), then added to the scores. A one-token sequence always
// applies; a longer one when it is not longer than ids and ids end with all but its last token.
// `bias` must already be deduplicated as HF's dict (see prepare_sequence_bias).
void sequence_bias(std::span<float> scores, std::span<const int32_t> ids, const GenerationConfig::SequenceBias& bias);
// HF turns the [[ids], bias] list into a dict: a repeated sequence keeps its first position and
// its last bias.
GenerationConfig::SequenceBias prepare_sequence_bias(const GenerationConfig::SequenceBias& bias);
// EncoderRepetitionPenaltyLogitsProcessor: scores of the encoder_ids tokens (each once) are
// multiplied (score < 0) or divided (score >= 0) by float32(1 / penalty).
void encoder_repetition_penalty(std::span<float> scores, std::span<const int32_t> encoder_ids, double penalty);
// The encoder input that row `row` of the expanded batch (inputs × num_beams or
// num_return_sequences rows, adjacent per input) is penalised with. Transformers 5.17 hands the
// processor the unexpanded encoder input ids ([batch, len]); torch.gather/scatter then touch only
// the first `batch` rows of the [rows, vocab] scores, row r with input r's ids (5.24 repeats the
// input for every row instead). Rows past `batch` get nothing.
std::span<const int32_t> encoder_repetition_ids(const std::vector<std::vector<int32_t>>& inputs, int row);
// RepetitionPenaltyLogitsProcessor: for every token in ids (once per distinct token), a negative
// score is multiplied by penalty and a positive one divided by it.
void repetition_penalty(std::span<float> scores, std::span<const int32_t> ids, float penalty);
// OpenAI's presence / frequency penalties (vLLM's apply_penalties, OpenAI's API reference): for
// each distinct token t in `generated` (the new tokens only, not the prompt) with count c,
// scores[t] -= presence + frequency * c.
void presence_frequency_penalty(std::span<float> scores, std::span<const int32_t> generated, float presence,
                                float frequency);
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
// InfNanRemoveLogitsProcessor: NaN → 0, +inf → float max, -inf → float lowest.
void remove_invalid_values(std::span<float> scores);
// ExponentialDecayLengthPenalty: when cur_len > regulation_start (= start_index + input_len), each
// EOS score s gets s + |s| * float32(decay_factor ** (cur_len - regulation_start) - 1). As in
// transformers 5.17 a non-finite EOS score is not special-cased (-inf with a factor > 1 gives NaN;
// 5.24 leaves it -inf).
void exponential_decay_length_penalty(std::span<float> scores, int cur_len, int64_t regulation_start, double factor,
                                      const std::vector<int64_t>& eos);
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
// EpsilonLogitsWarper: drops tokens with probability < epsilon, except those scoring at least the
// min_tokens_to_keep-th largest score (ties with it are kept).
void epsilon_cutoff(std::span<float> scores, float epsilon, int min_tokens_to_keep);
// EtaLogitsWarper: as epsilon_cutoff with the cutoff min(eta, sqrt(eta) * exp(-entropy)).
void eta_cutoff(std::span<float> scores, float eta, int min_tokens_to_keep);
// log_softmax in place (LogitNormalization; beam search's log_softmax).
void log_softmax(std::span<float> scores);
// softmax into out (float32 like torch; sums in double).
void softmax(std::span<const float> scores, std::span<float> out);

// What a processor needs to know about one row at one step.
struct RowView {
  std::span<const int32_t> ids;          // the row's tokens so far (without left padding)
  std::span<const int32_t> encoder_ids;  // seq2seq: this row's encoder input; causal: the prompt
  // What encoder_repetition_penalty uses for this row (see encoder_repetition_ids).
  std::span<const int32_t> encoder_penalty_ids = {};
};

// The configured chain, in transformers 5.17 `_get_logits_processor` order:
//   sequence_bias, encoder_repetition_penalty, repetition_penalty, [presence / frequency
//   penalties, autolm's OpenAI extension], no_repeat_ngram,
//   encoder_no_repeat_ngram, bad_words, min_length, min_new_tokens, forced_bos, forced_eos,
//   remove_invalid_values, exponential_decay_length_penalty, suppress_tokens,
//   begin_suppress_tokens, [do_sample: temperature, top_k, top_p, min_p, typical_p,
//   epsilon_cutoff, eta_cutoff], renormalize (log_softmax).
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
    kSequenceBias, kEncoderRepetition, kRepetition, kPresenceFrequency, kNoRepeatNgram, kEncoderNoRepeatNgram, kBadWords,
    kMinLength, kMinNewTokens, kForcedBos, kForcedEos, kRemoveInvalid, kExpDecay, kSuppress, kBeginSuppress,
    kTemperature, kTopK, kTopP, kMinP, kTypical, kEpsilon, kEta, kRenormalize
  };
  std::vector<Kind> steps_;
  GenerationConfig cfg_;
  std::vector<std::vector<int64_t>> bad_words_;
  GenerationConfig::SequenceBias sequence_bias_;
  int input_len_, max_length_, min_length_, begin_index_, min_keep_;
  int64_t regulation_start_ = 0;  // start_index + input length: both user values, summed in 64 bits
};

}  // namespace autolm::gen
