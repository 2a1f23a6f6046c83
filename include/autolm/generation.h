// generate(): greedy search, multinomial sampling and beam search over any autolm::Model, with
// Hugging Face's GenerationConfig field names, defaults and semantics (transformers 5.17
// generation/utils.py, logits_process.py, stopping_criteria.py). See docs/GENERATION.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "autolm/export.h"
#include "autolm/json.h"

#include "autolm/error.h"
#include "autolm/model.h"

namespace autolm {

// HF's `early_stopping`: True, False or "never".
enum class EarlyStopping { kFalse, kTrue, kNever };

// Bounds on generation settings, which may come from an untrusted generation_config.json, command
// line or HTTP request (docs/SECURITY.md). transformers has none; these are far above any real use
// and keep a hostile value from costing unbounded time or memory. GenerationConfig::validate()
// refuses values beyond them; generate() also refuses, before allocating anything, a request
// whose estimated memory (KV cache, logits, beam bookkeeping, output_scores) exceeds
// generate_memory_limit().
struct GenerationLimits {
  static constexpr int64_t kMaxNumBeams = 1024;
  static constexpr int64_t kMaxNumReturnSequences = 1024;
  // Token ids summed over each list-valued field (bad_words_ids, sequence_bias, suppress_tokens,
  // begin_suppress_tokens, forced_eos_token_id, eos_token_id): every step scans them per row.
  static constexpr int64_t kMaxListTokens = int64_t(1) << 20;
  static constexpr int64_t kMaxStopStrings = 1024;
  static constexpr int64_t kMaxStopStringBytes = 4096;  // each stop string
  // Draft tokens per assisted-generation step (prompt_lookup_num_tokens, num_assistant_tokens,
  // and the "heuristic" schedule's growth): the main model verifies them in one forward whose
  // logits hold (draft + 1) × vocab floats.
  static constexpr int64_t kMaxDraftTokens = 1024;
};
// Bytes generate() may plan to use: AUTOLM_MAX_GENERATE_BYTES when set, else 75% of physical
// memory (the same rule as the KV cache's own check).
AUTOLM_API uint64_t generate_memory_limit();

// Generation parameters. Field names, meanings and defaults are transformers' GenerationConfig.
// Layering: library defaults (this struct) < the folder's generation_config.json (or, if absent,
// the generation fields of config.json, as GenerationConfig.from_model_config does) < the caller
// (update() with a JSON object of overrides, then any field assigned directly).
struct AUTOLM_API GenerationConfig {
  // --- length ---
  // Total length cap: prompt + new tokens for causal models, decoder tokens (decoder_start
  // included) for seq2seq. Unset (or 20 coming from a file) = HF's default: 20 new tokens,
  // capped at config.json max_position_embeddings.
  std::optional<int> max_length;
  std::optional<int> max_new_tokens;  // takes precedence over max_length
  int min_length = 0;                 // EOS is banned while the sequence is shorter (same counting)
  std::optional<int> min_new_tokens;  // EOS banned until this many tokens were generated
  // Seconds generation may run (MaxTimeCriteria: checked after every step, the clock starting
  // after the encoder); rows still running then stop with FinishReason::kTime. Unset = no limit.
  std::optional<double> max_time;

  // --- strategy ---
  bool do_sample = false;
  int num_beams = 1;
  int num_return_sequences = 1;  // ≤ num_beams for beam search; 1 for greedy; any for sampling
  float length_penalty = 1.0f;   // beam score = sum logprobs / generated_len ** length_penalty
  EarlyStopping early_stopping = EarlyStopping::kFalse;

  // --- sampling warpers (only with do_sample) ---
  float temperature = 1.0f;      // > 0
  int top_k = 50;                // 0 disables
  float top_p = 1.0f;            // (0, 1]; 1 disables
  std::optional<float> min_p;    // [0, 1]
  float typical_p = 1.0f;        // (0, 1]; 1 disables
  float epsilon_cutoff = 0.0f;   // (0, 1); 0 disables: drops tokens with probability < epsilon
  float eta_cutoff = 0.0f;       // (0, 1); 0 disables: drops p < min(eta, sqrt(eta) * exp(-entropy))
  uint64_t seed = 0;             // autolm extension: seeds the sampler's RNG (std::mt19937_64)

  // --- logits processors ---
  // [[token ids], bias] pairs, as HF serialises them: a one-token entry adds bias to that token
  // always; a longer one adds it to its last token when the row ends with the others.
  using SequenceBias = std::vector<std::pair<std::vector<int64_t>, float>>;
  std::optional<SequenceBias> sequence_bias;
  // > 0; 1 disables. Rescales the scores of the encoder input's tokens (causal: the prompt's),
  // > 1 making them more likely. Double, as transformers computes 1 / penalty in Python.
  double encoder_repetition_penalty = 1.0;
  float repetition_penalty = 1.0f;       // > 0; 1 disables
  // OpenAI's additive penalties (autolm extensions; transformers has none), over the generated
  // tokens only (not the prompt): a token's score loses presence_penalty once if it was generated
  // and frequency_penalty × the number of times it was. [-2, 2]; 0 disables. Applied after
  // repetition_penalty.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int no_repeat_ngram_size = 0;          // 0 disables
  int encoder_no_repeat_ngram_size = 0;  // 0 disables; bans n-grams of the encoder input
  std::optional<std::vector<std::vector<int64_t>>> bad_words_ids;
  std::optional<std::vector<int64_t>> suppress_tokens;
  std::optional<std::vector<int64_t>> begin_suppress_tokens;
  std::optional<int64_t> forced_bos_token_id;           // forced as the first generated token
  std::optional<std::vector<int64_t>> forced_eos_token_id;  // forced at max_length - 1 (int or list)
  bool remove_invalid_values = false;  // NaN → 0, ±inf → ±float max (after forced_eos)
  // (start_index, decay_factor): once more than start_index tokens were generated, EOS scores
  // grow by |score| * (decay_factor ** (tokens past start_index) - 1). Needs eos_token_id.
  std::optional<std::pair<int, double>> exponential_decay_length_penalty;
  bool renormalize_logits = false;  // log_softmax after all processors

  // --- special tokens ---
  std::vector<int64_t> eos_token_id;  // int or list; empty = none
  std::optional<int64_t> pad_token_id, bos_token_id, decoder_start_token_id;

  // --- assisted generation (transformers' candidate generators; docs/GENERATION.md) ---
  // Greedy and sampling only, one input, one returned sequence. Greedy output is token for token
  // plain greedy's; sampling keeps the main model's distribution (speculative sampling).
  // Prompt lookup decoding (PromptLookupCandidateGenerator): drafts up to this many tokens that
  // followed an earlier occurrence of the row's last n-gram (causal: prompt and output; seq2seq:
  // the decoder tokens). Takes precedence over an assistant model, as in transformers. > 0.
  std::optional<int> prompt_lookup_num_tokens;
  std::optional<int> max_matching_ngram_size;  // longest n-gram tried, then shorter (unset = 2); > 0
  // With GenerateOptions::assistant_model (AssistedCandidateGenerator). As in transformers these
  // three are read from the assistant's generation config (assistant_model.generation_config;
  // GenerateOptions::assistant_generation_config), never the main one; unset there =
  // transformers' defaults 20, "constant", 0.4.
  std::optional<int> num_assistant_tokens;  // draft length per step; > 0
  // "constant" | "heuristic" (+2 after a fully accepted draft, else -1, at least 1) |
  // "heuristic_transient" (the same: autolm never carries the length over to the next call).
  std::optional<std::string> num_assistant_tokens_schedule;
  // The assistant stops drafting after a token it gives a probability below this ([0, 1]; 0 off).
  std::optional<double> assistant_confidence_threshold;
  // DIVERSE ensemble verification in (0, 1): accepts drafts against w·p + (1-w)·q instead of the
  // main model's p (lossy: output no longer equals plain greedy / sampling). Assistant only.
  std::optional<double> assistant_ensemble_weight;

  // --- stopping / output ---
  std::vector<std::string> stop_strings;  // needs GenerateHooks::decode
  bool output_scores = false;             // fill GenerateOutput::scores

  // The folder's generation_config.json (or config.json's generation fields when it is absent)
  // over the library defaults.
  static GenerationConfig from_pretrained(const std::string& dir);
  // Same, from an already loaded model (uses model.config().dir).
  static GenerationConfig for_model(const Model& model);
  // Same as from_pretrained for an already parsed generation_config.json object.
  static GenerationConfig from_json(const Json& j, const std::string& source = "generation config");

  // Applies a JSON object of HF-named fields (null = reset to default). Wrongly typed values are
  // Error(kInvalidInput) naming the field and value. Fields that change transformers' output but
  // that autolm cannot honour (guidance_scale, penalty_alpha, num_beam_groups, constraints, …;
  // see docs/GENERATION.md) are Error(kUnsupported) naming field, value and `source` unless they
  // hold their default; other unknown keys (transformers_version, use_cache, …) are ignored.
  GenerationConfig& update(const Json& overrides, const std::string& source = "generation config");
  // Throws Error(kInvalidInput) naming the field and value for invalid settings.
  void validate() const;
  // HF-named JSON of every field (None as null).
  Json to_json() const;
};

// A token and its log-probability.
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};
// One row's step with GenerateHooks::logprobs >= 0: the appended token's log-probability and the
// `logprobs` most likely tokens' (most likely first; equal values: lower id first), from the
// log-softmax of the model's raw logits, before any logits processor or warper (vLLM's default
// "raw_logprobs"; temperature, penalties and top-k do not change them).
struct StepLogprobs {
  TokenLogprob chosen;
  std::vector<TokenLogprob> top;
};

// One streaming step: the token each row appended (pad_token_id for rows that had already
// finished), which rows were still generating before this step, and which are done now.
struct StreamStep {
  int step = 0;                          // 0 for the first new token
  std::span<const int32_t> tokens;       // [rows]
  std::span<const uint8_t> was_active;   // [rows] 1 if tokens[r] is a real new token
  std::span<const uint8_t> finished;     // [rows] 1 once row r has stopped (EOS, stop string, length)
  std::span<const StepLogprobs> logprobs;  // [rows] with GenerateHooks::logprobs >= 0, else empty
};
// Called after every step (greedy and sampling; beam search refuses a stream callback, as HF's
// streamer does). Return false to stop generation now; the output keeps what was generated.
using StreamCallback = std::function<bool(const StreamStep&)>;
// Token ids → text, used for stop_strings (pass the tokenizer's decode).
using DecodeCallback = std::function<std::string(std::span<const int32_t>)>;

// Constrained decoding (docs/GENERATION.md "Constrained decoding"; JSON schemas:
// autolm/structured_output.h). generate() keeps one ConstraintState per row (beam search: per
// beam, following its beam), masks the row's scores with it before the logits processors (and
// again after them, so a forced token cannot leave the constraint), and advances it with the
// token the row chose. Needs eos_token_id: EOS is how a row ends once its output is complete.
class AUTOLM_API ConstraintState {
 public:
  virtual ~ConstraintState() = default;
  virtual std::unique_ptr<ConstraintState> clone() const = 0;
  // Sets the scores [vocab] of every token not allowed next to -inf (EOS is allowed only where
  // the output is complete; a state that can go nowhere allows only EOS).
  virtual void mask(std::span<float> scores) = 0;
  // Applies the mask the last mask() computed again (no new computation).
  virtual void remask(std::span<float> scores) const = 0;
  // The row appended `token`.
  virtual void advance(int32_t token) = 0;
};

class AUTOLM_API LogitsConstraint {
 public:
  virtual ~LogitsConstraint() = default;
  // The state of a row before its first generated token; eos_token_id: the generation config's.
  virtual std::unique_ptr<ConstraintState> start(std::span<const int64_t> eos_token_id) const = 0;
};

struct GenerateHooks {
  StreamCallback on_step;
  DecodeCallback decode;
  // >= 0: every StreamStep carries each row's StepLogprobs with this many top tokens (0: only the
  // chosen token's). Needs on_step; greedy and sampling only (beam search refuses it).
  int logprobs = -1;
  // Optional: constrains every row's output (e.g. json_schema_constraint()).
  std::shared_ptr<const LogitsConstraint> constraint;
};

// kTime: max_time ran out (transformers' MaxTimeCriteria).
enum class FinishReason { kLength, kEos, kStopString, kCallback, kTime };
// "length" | "eos" | "stop_string" | "callback" | "time"
AUTOLM_API const char* finish_reason_name(FinishReason r);

struct GenerateOutput {
  // [rows][len], rows = inputs × num_return_sequences; all rows the same length as HF's tensor.
  // Causal: (left-padded) prompt + new tokens. Seq2seq: decoder_start_token_id + new tokens.
  // Rows that ended early are padded with pad_token_id after their EOS (beam search: with
  // pad_token_id, or eos_token_id[0] when pad_token_id is 0 or unset, as transformers does).
  std::vector<std::vector<int32_t>> sequences;
  // Causal: sequences minus the prompt columns. Seq2seq: equal to sequences.
  std::vector<std::vector<int32_t>> new_tokens;
  // Beam search: final (length-penalised) beam scores per returned row; empty otherwise.
  std::vector<float> sequences_scores;
  // With output_scores: one entry per step of [rows × vocab] processed scores (beam search:
  // [inputs × num_beams × vocab] processed log-probabilities, as HF).
  std::vector<std::vector<float>> scores;
  int vocab_size = 0;
  int prompt_length = 0;  // columns of sequences that are prompt (causal) or 1 (seq2seq start)
  // Per returned row: number of generated tokens up to and including the stopping token
  // (without the padding after it) and why it stopped.
  std::vector<int> num_generated;
  std::vector<FinishReason> finish_reasons;
  // Assisted generation: draft tokens proposed to the main model and how many it accepted
  // (transformers' candidate_length and n_matches, summed over steps). 0 without drafts.
  int64_t draft_tokens = 0;
  int64_t accepted_draft_tokens = 0;
};

// What generate() may use besides the main model and its config.
struct GenerateOptions {
  // transformers' generate(assistant_model=...): a smaller model with the same vocabulary (and
  // family) drafts num_assistant_tokens tokens that the main model verifies in one forward.
  // Different tokenizers (universal assisted decoding) are refused. Must outlive the call.
  const Model* assistant_model = nullptr;
  // The assistant's own generation config, where num_assistant_tokens,
  // num_assistant_tokens_schedule and assistant_confidence_threshold are read (everything else
  // comes from the main config). Null = GenerationConfig::for_model(*assistant_model), read from
  // its folder at each call.
  const GenerationConfig* assistant_generation_config = nullptr;
  // transformers' generate(global_attention_mask=...) of LED: per encoder input, 1 = the token has
  // global attention (it attends to every token and every token attends to it), 0 = local
  // (sliding window); the same shape as the prompts (or the padded input_ids). Empty = none.
  // Refused for models without global attention, and when its shape or values are wrong.
  std::vector<std::vector<int32_t>> global_attention_mask = {};
};

// Generates from a list of prompts (token ids). Causal prompts are left-padded with
// pad_token_id (fallback eos_token_id[0]); seq2seq encoder inputs are right-padded.
AUTOLM_API GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerationConfig& config, const GenerateHooks& hooks = {});

// HF-style: pre-padded input_ids [batch][len] and attention_mask [batch][len] (1 = token,
// 0 = padding; empty = all ones). Causal padding must be on the left.
AUTOLM_API GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& input_ids,
                        const std::vector<std::vector<int32_t>>& attention_mask,
                        const GenerationConfig& config, const GenerateHooks& hooks = {});

// The same, with an assistant model (assisted generation; see GenerateOptions).
AUTOLM_API GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerationConfig& config, const GenerateHooks& hooks, const GenerateOptions& options);
AUTOLM_API GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& input_ids,
                        const std::vector<std::vector<int32_t>>& attention_mask, const GenerationConfig& config,
                        const GenerateHooks& hooks, const GenerateOptions& options);

}  // namespace autolm
