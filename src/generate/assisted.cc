// Assisted generation (transformers 5.24 `GenerationMixin._assisted_decoding` and
// `_speculative_sampling`): a candidate generator drafts tokens, the main model scores the row's
// last token and every draft in one forward over its KV cache, the drafts it agrees with are kept
// with one token of its own, and its cache is truncated past the rest. Greedy output is plain
// greedy's token for token; sampling with an assistant keeps the main model's distribution.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "generate/assisted_candidates.h"
#include "generate/search.h"
#include "core/check.h"

namespace autolm::gen {

bool is_assisted(const GenerationConfig& cfg, const GenerateOptions& options) {
  return options.assistant_model != nullptr || cfg.prompt_lookup_num_tokens.has_value();
}

namespace {

// _validate_generation_mode and get_generation_mode's rules for assisted generation.
void check_assisted(const Model& model, const Request& req, const GenerateOptions& options) {
  const auto& cfg = req.cfg;
  const std::string what = cfg.prompt_lookup_num_tokens ? "prompt lookup decoding (prompt_lookup_num_tokens)"
                                                        : "assisted generation (an assistant model)";
  // transformers only warns and runs beam search without the assistant; autolm refuses rather
  // than silently drop what the caller asked for.
  if (cfg.num_beams > 1)
    throw Error(ErrorKind::kInvalidInput, "generate: " + what + " works with greedy search and sampling only, not "
                                          "beam search (num_beams=" + std::to_string(cfg.num_beams) + ")");
  if (cfg.num_return_sequences > 1)
    throw Error(ErrorKind::kInvalidInput, "generate: num_return_sequences has to be 1 when doing " + what + ", but is " +
                                              std::to_string(cfg.num_return_sequences) + " (as in transformers)");
  if (req.batch > 1)
    throw Error(ErrorKind::kInvalidInput, "generate: " + what + " is only supported for batch_size = 1 (as in "
                                          "transformers), got " + std::to_string(req.batch) + " inputs");
  if (cfg.prompt_lookup_num_tokens && cfg.assistant_ensemble_weight)
    throw Error(ErrorKind::kInvalidInput, "generate: setting assistant_ensemble_weight requires candidate logits from "
                                          "the assistant model; it is not supported with prompt lookup decoding");
  if (cfg.prompt_lookup_num_tokens || !options.assistant_model) return;
  const Model& a = *options.assistant_model;
  const ModelConfig& mc = model.config();
  const ModelConfig& ac = a.config();
  if (a.family() != model.family())
    throw Error(ErrorKind::kInvalidInput, "generate: the assistant model (" + ac.dir + ", " + family_name(a.family()) +
                                              ") must be of the main model's family (" + family_name(model.family()) + ")");
  if (ac.vocab_size != mc.vocab_size)
    throw Error(ErrorKind::kUnsupported,
                "generate: the assistant model's vocab_size (" + std::to_string(ac.vocab_size) + ", " + ac.dir +
                    ") differs from the main model's (" + std::to_string(mc.vocab_size) + "): the models use different "
                    "tokenizers, and universal assisted decoding (re-tokenizing the drafts) is not implemented");
  check_memory(a, req);
}

// Inverse-CDF draw from non-negative weights (torch.multinomial over one row).
int32_t draw(std::span<const float> weights, Sampler& sampler) {
  double total = 0;
  for (float w : weights) total += w;
  const double u = sampler.uniform() * total;
  double cum = 0;
  int32_t last = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] > 0)) continue;
    cum += weights[i];
    last = static_cast<int32_t>(i);
    if (u < cum) break;
  }
  return last;
}

}  // namespace

GenerateOutput assisted_search(const Model& model, const Request& req, const GenerateOptions& options) {
  check_assisted(model, req, options);
  const auto& cfg = req.cfg;
  const int skip = req.left_pad[0];
  std::vector<int32_t> ids, mask;
  int len = 0;
  std::unique_ptr<DecodeState> state = start_state(model, req, 1, ids, mask, len);

  // The row: causal prompt or seq2seq decoder start, then new tokens. The main model's cache
  // holds all of it but the last token, which each step feeds together with the drafts.
  std::vector<int32_t> seq(ids.begin(), ids.begin() + len);
  if (len > 1) model.decode(std::span<const int32_t>(ids).first(len - 1),
                            mask.empty() ? std::span<const int32_t>() : std::span<const int32_t>(mask).first(len - 1),
                            len - 1, *state, false);

  LogitsPipeline pipeline(cfg, req.input_len, req.max_length, req.min_length);
  Sampler sampler(cfg.seed);
  GenerationConfig assistant_config;
  std::unique_ptr<CandidateGenerator> generator;
  if (cfg.prompt_lookup_num_tokens) {
    generator = std::make_unique<PromptLookup>(req);
  } else {
    assistant_config = options.assistant_generation_config ? *options.assistant_generation_config
                                                           : GenerationConfig::for_model(*options.assistant_model);
    generator = std::make_unique<AssistantDrafter>(*options.assistant_model, assistant_config, req, pipeline, sampler);
  }
  const MaxTime max_time(cfg.max_time);
  const std::optional<double> ensemble = cfg.assistant_ensemble_weight;

  GenerateOutput out;
  out.prompt_length = req.seq2seq ? 1 : req.src_len;
  int generated = 0;
  FinishReason reason = FinishReason::kLength;
  Candidates draft;
  std::vector<int32_t> feed, valid, ext;
  std::vector<float> processed, p, q;  // processed: [k + 1, vocab] the main model's scores
  bool vocab_checked = false, running = true;

  while (running) {
    const int cur_len = static_cast<int>(seq.size());
    const int budget = req.max_length - cur_len;  // >= 1 while running
    // 1. Drafts.
    generator->get_candidates(seq, budget, draft);
    const int k = static_cast<int>(draft.tokens.size());
    AUTOLM_CHECK(k <= budget, "candidate generator drafted past the length budget");

    // 2. One forward of the main model over the last token and the drafts: logits [k + 1, vocab].
    feed.assign(1, seq.back());
    feed.insert(feed.end(), draft.tokens.begin(), draft.tokens.end());
    std::span<const float> logits = model.decode(feed, {}, k + 1, *state, true);
    AUTOLM_CHECK(!logits.empty() && logits.size() % (k + 1) == 0, "decode returned a bad logits span");
    const int vocab = static_cast<int>(logits.size() / (k + 1));
    if (!vocab_checked) {
      out.vocab_size = vocab;
      vocab_checked = true;
    }
    const bool speculative = cfg.do_sample && !draft.scores.empty();
    AUTOLM_CHECK(draft.scores.empty() || draft.scores.size() == size_t(k) * vocab, "assistant scores have the wrong width");

    // Position i's processed scores: the row with the first i drafts (logits_processor over
    // candidate_input_ids[:, :cur_len + i]).
    ext.assign(seq.begin(), seq.end());
    ext.insert(ext.end(), draft.tokens.begin(), draft.tokens.end());
    processed.resize(size_t(k + 1) * vocab);
    auto process = [&](int i) -> std::span<float> {
      std::span<float> s(processed.data() + size_t(i) * vocab, vocab);
      std::memcpy(s.data(), logits.data() + size_t(i) * vocab, size_t(vocab) * sizeof(float));
      const RowView view{std::span<const int32_t>(ext).first(cur_len + i).subspan(skip), req.unpadded[0],
                         encoder_repetition_ids(req.unpadded, 0)};
      pipeline.apply(s, view, cur_len + i);
      return s;
    };
    auto q_row = [&](int i) { return std::span<const float>(draft.scores.data() + size_t(i) * vocab, vocab); };

    // 3. The valid tokens: accepted drafts and one token of the main model's own.
    valid.clear();
    if (speculative) {
      // _speculative_sampling (speculative decoding paper, algorithm 1): keep draft i with
      // probability min(1, p_i / q_i); at the first rejection sample from norm(max(p - q, 0)).
      p.resize(vocab);
      q.resize(vocab);
      int n = 0;
      for (; n < k; ++n) {
        softmax(process(n), p);
        softmax(q_row(n), q);
        const int32_t c = draft.tokens[n];
        const double ratio = double(p[c]) / double(q[c]);
        const double accept = ensemble ? 1.0 - *ensemble + *ensemble * ratio : ratio;
        if (!(sampler.uniform() <= accept)) break;
      }
      valid.assign(draft.tokens.begin(), draft.tokens.begin() + n);
      if (n < k) {  // p and q hold position n
        double sum = 0;
        for (int v = 0; v < vocab; ++v) sum += (p[v] = std::max(p[v] - q[v], 0.0f));
        // No residual mass (p == q): transformers divides by zero for lossless decoding; the
        // ensemble variant falls back to p. Both sample from p here.
        if (!(sum > std::numeric_limits<float>::min())) softmax(std::span<const float>(processed.data() + size_t(n) * vocab, vocab), p);
        valid.push_back(draw(p, sampler));
      } else {
        valid.push_back(sampler.sample(process(k)));
      }
    } else {
      // Greedy (argmax) or sampling without draft scores (multinomial at every position): keep
      // drafts while they equal the main model's own choice.
      for (int i = 0; i <= k; ++i) {
        std::span<float> s = process(i);
        int32_t tok;
        if (ensemble && !cfg.do_sample && i < k) {
          // Ensemble verification: argmax of w·softmax(p) + (1-w)·softmax(q).
          p.resize(vocab);
          q.resize(vocab);
          softmax(s, p);
          softmax(q_row(i), q);
          for (int v = 0; v < vocab; ++v) p[v] = float(*ensemble) * p[v] + float(1.0 - *ensemble) * q[v];
          tok = argmax(p);
        } else {
          tok = cfg.do_sample ? sampler.sample(s) : argmax(s);
        }
        valid.push_back(tok);
        if (i == k || tok != draft.tokens[i]) break;
      }
    }
    // Crop to the length budget and at the first EOS; what is left of the drafts was accepted.
    if (int(valid.size()) > budget) valid.resize(budget);
    for (size_t i = 0; i < valid.size(); ++i)
      if (req.is_eos(valid[i])) {
        valid.resize(i + 1);
        break;
      }
    const int n_matches = static_cast<int>(valid.size()) - 1;
    out.draft_tokens += k;
    out.accepted_draft_tokens += n_matches;

    // 4. Roll the cache back past the rejected drafts; update the drafter.
    state->truncate(cur_len + n_matches);
    seq.insert(seq.end(), valid.begin(), valid.end());
    generator->update(seq, n_matches, k);

    // Stopping criteria after each token, so that a stop string or EOS ends the row exactly where
    // plain decoding ends it; max_time once per step.
    for (int i = 0; i <= n_matches && running; ++i) {
      const int row_len = cur_len + i + 1;
      const int32_t tok = valid[i];
      ++generated;
      if (cfg.output_scores)
        out.scores.emplace_back(processed.begin() + size_t(i) * vocab, processed.begin() + size_t(i + 1) * vocab);
      if (row_len >= req.max_length) {
        running = false;
        reason = FinishReason::kLength;
      }
      if (req.stop.enabled() && req.stop.hit(std::span<const int32_t>(seq).first(row_len).subspan(skip))) {
        running = false;
        reason = FinishReason::kStopString;
      }
      if (req.is_eos(tok)) {
        running = false;
        reason = FinishReason::kEos;
      }
      if (running && i == n_matches && max_time.exceeded()) {
        running = false;
        reason = FinishReason::kTime;
      }
      if (req.hooks && req.hooks->on_step) {
        const uint8_t was_active = 1, finished = running ? 0 : 1;
        const StreamStep step{row_len - req.input_len - 1, std::span<const int32_t>(&tok, 1),
                              std::span<const uint8_t>(&was_active, 1), std::span<const uint8_t>(&finished, 1), {}};
        if (!req.hooks->on_step(step) && running) {
          running = false;
          reason = FinishReason::kCallback;
        }
      }
      if (!running) seq.resize(row_len);  // tokens after the stop are dropped
    }
  }

  out.sequences = {std::move(seq)};
  out.num_generated = {generated};
  out.finish_reasons = {reason};
  return out;
}

}  // namespace autolm::gen
