// Internal: transformers' candidate generators (generation/candidate_generator.py, 5.24) for
// assisted generation: prompt lookup (drafts copied from the row's own earlier n-grams) and an
// assistant model (a smaller model of the same vocabulary drafting with its own KV cache).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "autolm/generation.h"
#include "generate/logits_processors.h"
#include "generate/sampling.h"
#include "generate/search.h"

namespace autolm::gen {

// One step's drafts.
struct Candidates {
  std::vector<int32_t> tokens;  // [k] drafted tokens
  std::vector<float> scores;    // [k, vocab] the assistant's processed scores (q); empty for prompt lookup
};

class CandidateGenerator {
 public:
  virtual ~CandidateGenerator() = default;
  // Drafts at most `budget` tokens to follow `seq` (the whole row: causal prompt or seq2seq
  // decoder start, then the generated tokens). An empty draft means a plain decoding step.
  virtual void get_candidates(std::span<const int32_t> seq, int budget, Candidates& out) = 0;
  // After verification: `seq` is the row with the valid tokens appended; n_matches of the
  // candidate_length drafts were kept (transformers' update_candidate_strategy).
  virtual void update(std::span<const int32_t> seq, int n_matches, int candidate_length) = 0;
};

// PromptLookupCandidateGenerator: the tokens that followed the first earlier occurrence of the
// row's last n-gram (n = max_matching_ngram_size down to 1), cut before the first EOS. (The
// check that transformers makes with the logits processors on fake logits, which only drops
// drafts the processors forbid, is not made: it cannot change the output, only the speed.)
class PromptLookup : public CandidateGenerator {
 public:
  explicit PromptLookup(const Request& req);
  void get_candidates(std::span<const int32_t> seq, int budget, Candidates& out) override;
  void update(std::span<const int32_t>, int, int) override {}

 private:
  const Request& req_;
  int num_output_tokens_, max_ngram_;
};

// AssistedCandidateGenerator: the assistant runs greedy search or sampling (as the main config
// says, with the same logits processors) for up to num_assistant_tokens tokens over its own KV
// cache, stopping at EOS or at a token whose probability is below assistant_confidence_threshold;
// after verification its cache is truncated to the tokens the main model kept.
class AssistantDrafter : public CandidateGenerator {
 public:
  // assistant_config: the assistant's generation config (num_assistant_tokens & co).
  AssistantDrafter(const Model& assistant, const GenerationConfig& assistant_config, const Request& req,
                   const LogitsPipeline& pipeline, Sampler& sampler);
  void get_candidates(std::span<const int32_t> seq, int budget, Candidates& out) override;
  void update(std::span<const int32_t> seq, int n_matches, int candidate_length) override;

 private:
  const Model& assistant_;
  const Request& req_;
  const LogitsPipeline& pipeline_;
  Sampler& sampler_;
  std::unique_ptr<DecodeState> state_;
  int num_assistant_tokens_;
  bool heuristic_;
  double confidence_threshold_;
  int fed_ = 0;                   // tokens of the row held in the assistant's cache
  std::vector<int32_t> feed_, feed_mask_, row_;
  std::vector<float> scores_, probs_;
};

}  // namespace autolm::gen
