// Candidate generators of assisted generation (transformers 5.24 candidate_generator.py):
// PromptLookupCandidateGenerator and AssistedCandidateGenerator.
#include "generate/assisted_candidates.h"
#include "core/check.h"

#include <algorithm>
#include <string>

namespace autolm::gen {

PromptLookup::PromptLookup(const Request& req)
    : req_(req),
      num_output_tokens_(req.cfg.prompt_lookup_num_tokens.value_or(10)),
      max_ngram_(req.cfg.max_matching_ngram_size.value_or(2)) {}

void PromptLookup::get_candidates(std::span<const int32_t> seq, int budget, Candidates& out) {
  out.tokens.clear();
  out.scores.clear();
  const int64_t input_length = static_cast<int64_t>(seq.size());
  // "Don't generate more than max_length - 1 candidates since the target model generates one extra token."
  if (req_.max_length == input_length + 1) return;
  for (int64_t n = std::min<int64_t>(max_ngram_, input_length - 1); n > 0; --n) {
    const auto ngram = seq.subspan(input_length - n);
    // Windows left to right: the first whose continuation is not empty wins.
    for (int64_t idx = 0; idx + n <= input_length; ++idx) {
      if (!std::equal(ngram.begin(), ngram.end(), seq.begin() + idx)) continue;
      const int64_t start = idx + n;
      const int64_t end = std::min({start + num_output_tokens_, input_length, int64_t(req_.max_length)});
      if (start >= end) continue;
      // Cut before the first EOS: otherwise the main model may accept EOS and what follows.
      for (int64_t i = start; i < end && !req_.is_eos(seq[i]); ++i) out.tokens.push_back(seq[i]);
      // The verification forward holds at most `budget` drafts (tokens past the length budget
      // would be cropped anyway).
      if (int64_t(out.tokens.size()) > budget) out.tokens.resize(budget);
      return;
    }
  }
}

AssistantDrafter::AssistantDrafter(const Model& assistant, const GenerationConfig& acfg, const Request& req,
                                   const LogitsPipeline& pipeline, Sampler& sampler)
    : assistant_(assistant),
      req_(req),
      pipeline_(pipeline),
      sampler_(sampler),
      num_assistant_tokens_(acfg.num_assistant_tokens.value_or(20)),
      heuristic_(acfg.num_assistant_tokens_schedule.value_or("constant") != "constant"),
      confidence_threshold_(acfg.assistant_confidence_threshold.value_or(0.4)) {
  state_ = assistant.new_state(1, req.max_length, 1);
  AUTOLM_CHECK(state_ && state_->batch_size() == 1, "new_state returned the wrong batch size");
  // Encoder-decoder assistants run their own encoder over the same input ids.
  if (req.seq2seq) assistant.encode(req.input_ids, req.attention_mask, req.src_len, *state_);
}

void AssistantDrafter::get_candidates(std::span<const int32_t> seq, int budget, Candidates& out) {
  out.tokens.clear();
  out.scores.clear();
  const int cur_len = static_cast<int>(seq.size());
  // _calculate_new_tokens: max_new_tokens = min(num_assistant_tokens, max_length - cur_len - 1).
  const int max_new = std::min(num_assistant_tokens_, budget - 1);
  if (max_new <= 0) return;
  // q: for speculative sampling and ensemble verification.
  const bool keep_scores = req_.cfg.do_sample || req_.cfg.assistant_ensemble_weight.has_value();
  // The assistant's cache lags the row: feed what it has not seen (the prompt at first, then
  // the main model's last token or two).
  feed_.assign(seq.begin() + fed_, seq.end());
  feed_mask_.clear();
  if (!req_.seq2seq && fed_ < req_.src_len) {
    feed_mask_.resize(feed_.size(), 1);
    for (int i = fed_; i < req_.src_len; ++i) feed_mask_[i - fed_] = req_.attention_mask[i];
  }
  std::span<const float> logits =
      assistant_.decode(feed_, feed_mask_, static_cast<int>(feed_.size()), *state_, false);
  const int64_t vocab = static_cast<int64_t>(logits.size());
  if (vocab != assistant_.config().vocab_size && assistant_.config().vocab_size > 0)
    throw Error(ErrorKind::kInternal, "assistant decode returned " + std::to_string(vocab) + " logits");
  row_.assign(seq.begin(), seq.end());
  const int skip = req_.left_pad[0];
  for (int j = 0; j < max_new; ++j) {
    scores_.assign(logits.begin(), logits.end());
    const RowView view{std::span<const int32_t>(row_).subspan(skip), req_.unpadded[0],
                       encoder_repetition_ids(req_.unpadded, 0)};
    pipeline_.apply(scores_, view, cur_len + j);
    const int32_t tok = req_.cfg.do_sample ? sampler_.sample(scores_) : argmax(scores_);
    out.tokens.push_back(tok);
    if (keep_scores) out.scores.insert(out.scores.end(), scores_.begin(), scores_.end());
    row_.push_back(tok);
    if (req_.is_eos(tok) || j + 1 == max_new) break;
    // ConfidenceCriteria: stop once the assistant's own probability of its token is low.
    if (confidence_threshold_ > 0) {
      probs_.resize(scores_.size());
      softmax(scores_, probs_);
      if (probs_[tok] < confidence_threshold_) break;
    }
    logits = assistant_.decode(std::span<const int32_t>(&row_.back(), 1), {}, 1, *state_, false);
  }
  fed_ = cur_len + static_cast<int>(out.tokens.size()) - 1;  // the last draft was never fed
}

void AssistantDrafter::update(std::span<const int32_t> seq, int n_matches, int candidate_length) {
  // The assistant's cache holds the old row and its drafts but the last; the new row agrees
  // with them up to the n_matches accepted drafts.
  const int old_len = static_cast<int>(seq.size()) - n_matches - 1;
  fed_ = std::min(fed_, old_len + n_matches);
  if (state_->length() > fed_) state_->truncate(fed_);
  // "heuristic" / "heuristic_transient": +2 after a fully accepted draft, else -1 (at least 1).
  if (heuristic_) {
    if (n_matches == candidate_length)
      num_assistant_tokens_ = static_cast<int>(std::min<int64_t>(num_assistant_tokens_ + 2, GenerationLimits::kMaxDraftTokens));
    else
      num_assistant_tokens_ = std::max(1, num_assistant_tokens_ - 1);
  }
}

}  // namespace autolm::gen
