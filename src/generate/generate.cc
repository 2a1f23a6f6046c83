// generate(): transformers' preparation (special tokens, padding, max/min length) and the
// greedy / multinomial-sampling loop (`GenerationMixin._sample`); beam search is beam_search.cc.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "autolm/generation.h"
#include "generate/logprobs.h"
#include "generate/row_constraints.h"
#include "generate/sampling.h"
#include "generate/search.h"
#include "core/check.h"

namespace autolm {

uint64_t generate_memory_limit() {
  if (const char* v = std::getenv("AUTOLM_MAX_GENERATE_BYTES"); v && *v) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || v[0] == '-')
      throw Error(ErrorKind::kInvalidInput,
                  std::string("environment variable AUTOLM_MAX_GENERATE_BYTES=\"") + v + "\" is not a positive integer");
    return n;
  }
  const double physical = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE));
  return physical > 0 ? static_cast<uint64_t>(0.75 * physical) : UINT64_MAX;
}

namespace gen {

std::unique_ptr<DecodeState> start_state(const Model& model, const Request& req, int rpi,
                                         std::vector<int32_t>& ids, std::vector<int32_t>& mask, int& len) {
  const int rows = req.batch * rpi;
  std::unique_ptr<DecodeState> state = model.new_state(rows, req.max_length, rpi);
  AUTOLM_CHECK(state && state->batch_size() == rows, "new_state returned the wrong batch size");
  if (req.seq2seq) {
    model.encode(req.input_ids, req.attention_mask, req.src_len, *state);
    ids.assign(rows, req.decoder_start);
    mask.clear();
    len = 1;
  } else {
    ids.resize(static_cast<size_t>(rows) * req.src_len);
    mask.resize(ids.size());
    for (int r = 0; r < rows; ++r) {
      const int b = r / rpi;
      std::memcpy(&ids[(size_t)r * req.src_len], &req.input_ids[(size_t)b * req.src_len], req.src_len * sizeof(int32_t));
      std::memcpy(&mask[(size_t)r * req.src_len], &req.attention_mask[(size_t)b * req.src_len], req.src_len * sizeof(int32_t));
    }
    len = req.src_len;
  }
  return state;
}

namespace {

int vocab_of(std::span<const float> logits, int rows) {
  AUTOLM_CHECK(rows > 0 && logits.size() % rows == 0 && !logits.empty(), "decode returned a bad logits span");
  return static_cast<int>(logits.size() / rows);
}

void check_token_ranges(const Request& req, int64_t vocab) {
  auto check = [&](const char* name, int64_t t) {
    if (t >= vocab)
      throw Error(ErrorKind::kInvalidInput, std::string("generation config: ") + name + " contains token id " +
                                                std::to_string(t) + ", outside the vocabulary (size " +
                                                std::to_string(vocab) + ")");
  };
  const auto& c = req.cfg;
  if (c.bad_words_ids)
    for (const auto& w : *c.bad_words_ids)
      for (int64_t t : w) check("bad_words_ids", t);
  if (c.forced_bos_token_id) check("forced_bos_token_id", *c.forced_bos_token_id);
  if (c.forced_eos_token_id)
    for (int64_t t : *c.forced_eos_token_id) check("forced_eos_token_id", t);
  if (c.sequence_bias)  // SequenceBiasLogitsProcessor._prepare_bias_variables raises too
    for (const auto& entry : *c.sequence_bias)
      for (int64_t t : entry.first) check("sequence_bias", t);
}

std::string mib(double bytes) { return std::to_string(static_cast<int64_t>(bytes / (1 << 20))) + " MiB"; }

}  // namespace

// What generate() will hold at its peak, estimated before anything is allocated (doubles: a
// hostile request must not wrap the estimate itself). Counts the decoder KV cache (and seq2seq
// cross-attention K/V), the logits rows and our copies of them, beam bookkeeping (four sets of
// full-length sequences; per input num_beams × vocab candidates) and output_scores.
void check_memory(const Model& model, const Request& req) {
  const auto& cfg = req.cfg;
  const bool beam = cfg.num_beams > 1;
  const double per_input = beam ? cfg.num_beams : cfg.do_sample ? cfg.num_return_sequences : 1;
  const double rows = double(req.batch) * per_input;
  const double L = req.max_length, S = req.src_len, V = double(std::max<int64_t>(model.config().vocab_size, 0));
  const double kv_token = double(std::max<int64_t>(model.kv_bytes_per_token(), 0));
  const double kv = kv_token * (rows * L + (req.seq2seq ? double(req.batch) * S : 0.0));
  const double inputs = (double(req.batch) + rows) * S * 2 * sizeof(int32_t);
  const double logits = 2 * rows * V * sizeof(float);  // the model's scratch + our processed copy
  double bookkeeping = rows * L * sizeof(int32_t);
  if (beam) {
    // running + finished sets and their next versions; acc, top-k queue, sampler weights; then
    // per candidate (beams_to_keep = max(2, 1 + #eos) × num_beams) its value, source, token, flags.
    const double candidates = std::min(std::max(2.0, 1.0 + double(cfg.eos_token_id.size())) * cfg.num_beams,
                                       double(cfg.num_beams) * V);
    bookkeeping = 4 * rows * L * sizeof(int32_t) + double(cfg.num_beams) * V * (sizeof(float) + 16 + 13) +
                  candidates * 48;
  }
  const double scores = cfg.output_scores ? (L - req.input_len) * rows * V * sizeof(float) : 0.0;
  // Rows are indexed with int.
  if (rows > double(INT32_MAX))
    throw Error(ErrorKind::kInvalidInput, "generate: " + std::to_string(req.batch) + " inputs × " +
                                              std::to_string(int64_t(per_input)) + " rows each exceeds autolm's limit of " +
                                              std::to_string(INT32_MAX) + " rows");
  const double total = kv + inputs + logits + bookkeeping + scores;
  const double limit = static_cast<double>(generate_memory_limit());
  if (total <= limit) return;
  std::string what = "generate: " + std::to_string(req.batch) + " input(s) × " +
                     (beam ? "num_beams=" + std::to_string(cfg.num_beams)
                           : "num_return_sequences=" + std::to_string(cfg.do_sample ? cfg.num_return_sequences : 1)) +
                     " rows (" +
                     (cfg.max_new_tokens ? "max_new_tokens=" + std::to_string(*cfg.max_new_tokens) + ", " : std::string()) +
                     "max_length " + std::to_string(req.max_length) +
                     (cfg.output_scores ? ", output_scores=true" : "") + ") would need about " + mib(total) +
                     " (KV cache " + mib(kv) + ", logits " + mib(logits) + ", sequences and beams " +
                     mib(bookkeeping) + (cfg.output_scores ? ", scores " + mib(scores) : std::string()) +
                     "), more than the limit of " + mib(limit) +
                     " (75% of physical memory, or AUTOLM_MAX_GENERATE_BYTES); lower num_beams, "
                     "num_return_sequences or max_new_tokens";
  throw Error(ErrorKind::kInvalidInput, what);
}

namespace {

// `_sample`: greedy (argmax) or multinomial sampling, one token per row per step.
GenerateOutput sample_search(const Model& model, const Request& req) {
  const auto& cfg = req.cfg;
  const int rpi = cfg.do_sample ? cfg.num_return_sequences : 1;
  const int rows = req.batch * rpi;
  const int prompt_cols = req.seq2seq ? 1 : req.src_len;

  RowConstraints constraints(req.hooks, cfg, rows);
  std::vector<int32_t> ids, mask;
  int len = 0;
  std::unique_ptr<DecodeState> state = start_state(model, req, rpi, ids, mask, len);

  // Full sequences [rows][max_length]: the prompt (causal) or decoder start, then new tokens.
  std::vector<std::vector<int32_t>> seqs(rows);
  std::vector<int> skip(rows, 0);  // left padding hidden from the processors
  for (int r = 0; r < rows; ++r) {
    const int b = r / rpi;
    if (req.seq2seq) {
      seqs[r].push_back(req.decoder_start);
    } else {
      seqs[r].assign(req.input_ids.begin() + (size_t)b * req.src_len, req.input_ids.begin() + (size_t)(b + 1) * req.src_len);
      skip[r] = req.left_pad[b];
    }
  }

  LogitsPipeline pipeline(cfg, req.input_len, req.max_length, req.min_length);
  Sampler sampler(cfg.seed);
  const MaxTime max_time(cfg.max_time);  // after the encoder, as transformers' criteria
  const bool has_eos = !cfg.eos_token_id.empty();
  const int32_t pad = req.pad ? static_cast<int32_t>(*req.pad) : 0;

  GenerateOutput out;
  out.prompt_length = prompt_cols;
  std::vector<uint8_t> active(rows, 1), was_active(rows, 1);
  std::vector<int> generated(rows, 0);
  std::vector<FinishReason> reason(rows, FinishReason::kLength);
  std::vector<int32_t> next(rows);
  std::vector<float> row_scores;
  const int want_logprobs = req.hooks ? req.hooks->logprobs : -1;
  std::vector<StepLogprobs> step_logprobs(want_logprobs >= 0 ? rows : 0);
  int cur_len = req.input_len;
  bool vocab_checked = false;

  while (true) {
    std::span<const float> logits = model.decode(ids, mask, len, *state, false);
    const int vocab = vocab_of(logits, rows);
    if (!vocab_checked) {
      check_token_ranges(req, vocab);
      out.vocab_size = vocab;
      vocab_checked = true;
    }
    std::vector<float> step_scores;
    if (cfg.output_scores) step_scores.resize((size_t)rows * vocab);
    for (int r = 0; r < rows; ++r) {
      row_scores.assign(logits.begin() + (size_t)r * vocab, logits.begin() + (size_t)(r + 1) * vocab);
      const int b = r / rpi;
      RowView view{std::span<const int32_t>(seqs[r]).subspan(skip[r]), req.unpadded[b],
                   encoder_repetition_ids(req.unpadded, r)};
      constraints.mask(r, row_scores);
      pipeline.apply(row_scores, view, cur_len);
      constraints.settle(r, row_scores, logits.subspan((size_t)r * vocab, vocab));
      if (cfg.output_scores) std::copy(row_scores.begin(), row_scores.end(), step_scores.begin() + (size_t)r * vocab);
      int32_t tok = cfg.do_sample ? sampler.sample(row_scores) : argmax(row_scores);
      // Finished rows get padding (only when an EOS criterion exists, as transformers).
      if (has_eos && !active[r]) tok = pad;
      else constraints.advance(r, tok);
      next[r] = tok;
      if (want_logprobs >= 0) token_logprobs(logits.subspan((size_t)r * vocab, vocab), tok, want_logprobs, step_logprobs[r]);
    }
    if (cfg.output_scores) out.scores.push_back(std::move(step_scores));
    for (int r = 0; r < rows; ++r) seqs[r].push_back(next[r]);
    ++cur_len;

    // Stopping criteria: max_time, max_length, stop strings, EOS (a later one names the reason).
    was_active = active;
    const bool timed_out = max_time.exceeded();
    for (int r = 0; r < rows; ++r) {
      if (!active[r]) continue;
      ++generated[r];
      if (timed_out) {
        active[r] = 0;
        reason[r] = FinishReason::kTime;
      }
      if (cur_len >= req.max_length) {
        active[r] = 0;
        reason[r] = FinishReason::kLength;
      }
      if (req.stop.enabled() && req.stop.hit(std::span<const int32_t>(seqs[r]).subspan(skip[r]))) {
        active[r] = 0;
        reason[r] = FinishReason::kStopString;
      }
      if (req.is_eos(next[r])) {
        active[r] = 0;
        reason[r] = FinishReason::kEos;
      }
    }
    bool any_active = std::any_of(active.begin(), active.end(), [](uint8_t a) { return a != 0; });
    if (req.hooks && req.hooks->on_step) {
      StreamStep step{cur_len - req.input_len - 1, next, was_active, {}, step_logprobs};
      std::vector<uint8_t> finished(rows);
      for (int r = 0; r < rows; ++r) finished[r] = !active[r];
      step.finished = finished;
      if (!req.hooks->on_step(step)) {
        for (int r = 0; r < rows; ++r)
          if (active[r]) reason[r] = FinishReason::kCallback;
        any_active = false;
      }
    }
    if (!any_active) break;
    ids.assign(next.begin(), next.end());
    mask.clear();
    len = 1;
  }

  out.sequences = std::move(seqs);
  out.num_generated = generated;
  out.finish_reasons = reason;
  return out;
}

}  // namespace

Request prepare(const Model& model, const std::vector<std::vector<int32_t>>& input_ids,
                const std::vector<std::vector<int32_t>>& attention_mask, bool padded, const GenerationConfig& config,
                const GenerateHooks& hooks) {
  config.validate();
  Request req;
  req.cfg = config;
  req.hooks = &hooks;
  req.seq2seq = model.family() == ModelFamily::kSeq2Seq;
  auto& cfg = req.cfg;

  if (input_ids.empty()) throw Error(ErrorKind::kInvalidInput, "generate: no prompts given");
  size_t longest = 0;
  for (const auto& p : input_ids) longest = std::max(longest, p.size());
  if (input_ids.size() > size_t(INT32_MAX) || longest > size_t(INT32_MAX))
    throw Error(ErrorKind::kInvalidInput, "generate: " + std::to_string(input_ids.size()) + " prompts of up to " +
                                              std::to_string(longest) + " tokens exceed autolm's limit of " +
                                              std::to_string(INT32_MAX));
  req.batch = static_cast<int>(input_ids.size());
  req.src_len = static_cast<int>(longest);

  // _prepare_special_tokens: pad falls back to eos[0]; seq2seq start falls back to bos.
  const char* pad_field = cfg.pad_token_id ? "pad_token_id" : "eos_token_id";
  if (cfg.pad_token_id) req.pad = *cfg.pad_token_id;
  else if (!cfg.eos_token_id.empty()) req.pad = cfg.eos_token_id[0];
  // Output columns are int32 (a pad of -1, as some configs set, is kept as transformers keeps it).
  if (req.pad && (*req.pad < INT32_MIN || *req.pad > INT32_MAX))
    throw Error(ErrorKind::kInvalidInput, std::string("generation config: ") + pad_field + "=" +
                                              std::to_string(*req.pad) + " is not a valid token id");
  const int64_t vocab = model.config().vocab_size;
  if (req.seq2seq) {
    const char* start_field = cfg.decoder_start_token_id ? "decoder_start_token_id" : "bos_token_id";
    std::optional<int64_t> start = cfg.decoder_start_token_id ? cfg.decoder_start_token_id : cfg.bos_token_id;
    if (!start)
      throw Error(ErrorKind::kInvalidInput,
                  "generation config: decoder_start_token_id or bos_token_id has to be defined for "
                  "encoder-decoder generation");
    // The decoder's first input: it must index the embedding table.
    if (*start < 0 || *start > INT32_MAX || (vocab > 0 && *start >= vocab))
      throw Error(ErrorKind::kInvalidInput, std::string("generation config: ") + start_field + "=" +
                                                std::to_string(*start) + " is outside the vocabulary (size " +
                                                std::to_string(vocab) + ")");
    req.decoder_start = static_cast<int32_t>(*start);
  }
  if (hooks.logprobs >= 0 && (cfg.num_beams > 1 || !hooks.on_step))
    throw Error(ErrorKind::kInvalidInput, "generate: GenerateHooks::logprobs needs an on_step callback and greedy or "
                                          "sampling (num_beams=" + std::to_string(cfg.num_beams) + ")");
  if (cfg.num_beams > 1 && hooks.on_step)
    throw Error(ErrorKind::kInvalidInput, "generate: a stream callback cannot be used with beam search "
                                          "(num_beams=" + std::to_string(cfg.num_beams) + "), as in transformers");

  // _prepare_generated_length, in 64 bits: prompt + max_new_tokens must not wrap.
  req.input_len = req.seq2seq ? 1 : req.src_len;
  int64_t max_length = 0;
  if (cfg.max_new_tokens) {
    max_length = int64_t(*cfg.max_new_tokens) + req.input_len;
  } else if (!cfg.max_length) {
    max_length = 20 + int64_t(req.input_len);  // "by default let's always generate 20 new tokens"
    int64_t mpe = 0;
    if (auto v = model.config().int_value("max_position_embeddings"))
      mpe = *v;
    else if (model.config().max_positions > 0)
      mpe = model.config().max_positions;
    if (mpe > 0) max_length = std::min<int64_t>(max_length, mpe);
  } else {
    max_length = *cfg.max_length;
  }
  const char* length_field = cfg.max_new_tokens ? "max_new_tokens" : "max_length";
  const int64_t length_value = cfg.max_new_tokens ? *cfg.max_new_tokens : cfg.max_length ? *cfg.max_length : 20;
  // Positions, cache lengths and output columns are int: the total must fit one.
  if (max_length > INT32_MAX)
    throw Error(ErrorKind::kInvalidInput, "generation config: " + std::string(length_field) + "=" +
                                              std::to_string(length_value) + " with an input of " +
                                              std::to_string(req.input_len) + " tokens gives a total length of " +
                                              std::to_string(max_length) + ", beyond autolm's limit of " +
                                              std::to_string(INT32_MAX) + " tokens");
  req.max_length = static_cast<int>(max_length);
  const int64_t min_length = cfg.min_new_tokens ? int64_t(*cfg.min_new_tokens) + req.input_len : cfg.min_length;
  req.min_length = static_cast<int>(std::min<int64_t>(min_length, INT32_MAX));  // only compared with cur_len

  // _validate_generated_length.
  if (req.input_len >= req.max_length)
    throw Error(ErrorKind::kInvalidInput,
                std::string("generate: input length of ") + (req.seq2seq ? "decoder_input_ids" : "input_ids") +
                    " is " + std::to_string(req.input_len) + ", but max_length is set to " +
                    std::to_string(req.max_length) + "; increase max_length or set max_new_tokens");
  const int64_t maxpos = model.config().max_positions;
  if (maxpos > 0) {
    if (!req.seq2seq && req.max_length > maxpos)
      throw Error(ErrorKind::kInvalidInput,
                  "generate: prompt of " + std::to_string(req.src_len) + " tokens plus " +
                      std::to_string(req.max_length - req.src_len) + " new tokens (" + length_field + "=" +
                      std::to_string(length_value) + ", max_length " + std::to_string(req.max_length) +
                      ") exceeds the model's maximum of " + std::to_string(maxpos) +
                      " positions; shorten the prompt or lower max_new_tokens");
    if (req.seq2seq && req.src_len > maxpos)
      throw Error(ErrorKind::kInvalidInput, "generate: encoder input of " + std::to_string(req.src_len) +
                                                " tokens exceeds the model's maximum of " + std::to_string(maxpos) +
                                                " positions; shorten the input");
    if (req.seq2seq && req.max_length > maxpos)
      throw Error(ErrorKind::kInvalidInput, "generate: " + std::string(length_field) + "=" +
                                                std::to_string(length_value) + " gives max_length " +
                                                std::to_string(req.max_length) + " decoder tokens, more than the "
                                                "model's maximum of " + std::to_string(maxpos) +
                                                " positions; lower max_new_tokens");
  }
  check_memory(model, req);
  // Processor token ids against the configured vocabulary before anything is allocated (checked
  // again against the logits' width at the first step).
  if (model.config().vocab_size > 0) check_token_ranges(req, model.config().vocab_size);

  // Padding: left for causal prompts, right for encoder inputs.
  const int32_t pad_id = req.pad ? static_cast<int32_t>(*req.pad) : 0;
  req.input_ids.assign((size_t)req.batch * longest, pad_id);
  req.attention_mask.assign((size_t)req.batch * longest, 0);
  req.left_pad.assign(req.batch, 0);
  req.unpadded.resize(req.batch);
  for (int b = 0; b < req.batch; ++b) {
    const auto& p = input_ids[b];
    if (padded) {
      if (p.size() != longest)
        throw Error(ErrorKind::kInvalidInput, "generate: input_ids rows differ in length (row " + std::to_string(b) +
                                                  " has " + std::to_string(p.size()) + ", row 0 has " +
                                                  std::to_string(input_ids[0].size()) + ")");
      std::vector<int32_t> m(longest, 1);
      if (!attention_mask.empty()) {
        if (attention_mask.size() != input_ids.size() || attention_mask[b].size() != longest)
          throw Error(ErrorKind::kInvalidInput, "generate: attention_mask shape differs from input_ids (row " +
                                                    std::to_string(b) + ")");
        m = attention_mask[b];
      }
      for (size_t i = 0; i < longest; ++i) {
        req.input_ids[b * longest + i] = p[i];
        req.attention_mask[b * longest + i] = m[i] ? 1 : 0;
        if (m[i]) req.unpadded[b].push_back(p[i]);
        // The model embeds padding positions too (their output is masked).
        else if (p[i] < 0 || (model.config().vocab_size > 0 && p[i] >= model.config().vocab_size))
          throw Error(ErrorKind::kInvalidInput, "generate: input_ids row " + std::to_string(b) + " holds token id " +
                                                    std::to_string(p[i]) + " at a padding position, outside the "
                                                    "vocabulary (size " + std::to_string(model.config().vocab_size) + ")");
      }
      if (!req.seq2seq) {
        size_t lead = 0;
        while (lead < longest && !m[lead]) ++lead;
        for (size_t i = lead; i < longest; ++i)
          if (!m[i])
            throw Error(ErrorKind::kInvalidInput, "generate: causal input row " + std::to_string(b) +
                                                      " is not left-padded (attention_mask has a 0 after a 1); "
                                                      "decoder-only models need padding_side='left'");
        req.left_pad[b] = static_cast<int>(lead);
      }
    } else {
      const size_t off = req.seq2seq ? 0 : longest - p.size();
      for (size_t i = 0; i < p.size(); ++i) {
        req.input_ids[b * longest + off + i] = p[i];
        req.attention_mask[b * longest + off + i] = 1;
      }
      req.unpadded[b] = p;
      req.left_pad[b] = req.seq2seq ? 0 : static_cast<int>(off);
    }
    if (req.unpadded[b].empty())
      throw Error(ErrorKind::kInvalidInput, "generate: prompt " + std::to_string(b) + " is empty");
    // An encoder-decoder's prompt indexes the source vocabulary, which may differ from the
    // target one config().vocab_size counts (FSMT src_vocab_size, Marian decoder_vocab_size):
    // encode() checks those ids against it.
    const bool source_vocab = req.seq2seq;
    for (int32_t t : req.unpadded[b])
      if (t < 0 || (!source_vocab && model.config().vocab_size > 0 && t >= model.config().vocab_size))
        throw Error(ErrorKind::kInvalidInput, "generate: prompt " + std::to_string(b) + " holds token id " +
                                                  std::to_string(t) + ", outside the vocabulary (size " +
                                                  std::to_string(model.config().vocab_size) + ")");
  }

  // Padding positions and finished rows (greedy / sampling with EOS, several rows) are fed
  // pad_token_id: the model looks it up in its embedding table, as transformers does.
  const bool pads_input = std::find(req.attention_mask.begin(), req.attention_mask.end(), 0) != req.attention_mask.end();
  const bool pads_rows = cfg.num_beams == 1 && !cfg.eos_token_id.empty() &&
                         int64_t(req.batch) * (cfg.do_sample ? cfg.num_return_sequences : 1) > 1;
  if ((pads_input || pads_rows) && vocab > 0 && (pad_id < 0 || pad_id >= vocab))
    throw Error(ErrorKind::kInvalidInput, std::string("generation config: ") + pad_field + "=" +
                                              std::to_string(pad_id) + " is used as padding but is outside the "
                                              "vocabulary (size " + std::to_string(vocab) + ")");
  req.stop = StopStringChecker(cfg.stop_strings, hooks.decode);
  return req;
}

}  // namespace gen

namespace {

GenerateOutput finish(GenerateOutput out, const gen::Request& req) {
  // new_tokens: seq2seq keeps the start token (as the fixtures' new_tokens); causal drops the prompt.
  out.new_tokens.clear();
  for (const auto& s : out.sequences)
    out.new_tokens.emplace_back(s.begin() + (req.seq2seq ? 0 : std::min<size_t>(s.size(), req.src_len)), s.end());
  return out;
}

// LEDEncoder._merge_to_attention_mask: attention_mask * (global_attention_mask + 1), the mask
// encode() receives (2 = global attention; the model refuses it unless it has global attention).
void merge_global_attention(const Model& model, const std::vector<std::vector<int32_t>>& ids,
                            const std::vector<std::vector<int32_t>>& global, gen::Request& req) {
  if (!req.seq2seq)
    throw Error(ErrorKind::kInvalidInput, "generate: global_attention_mask is an encoder input (LED); model_type \"" +
                                              model.config().model_type + "\" is decoder-only");
  if (global.size() != ids.size())
    throw Error(ErrorKind::kInvalidInput, "generate: global_attention_mask has " + std::to_string(global.size()) +
                                              " rows for " + std::to_string(ids.size()) + " inputs");
  for (size_t b = 0; b < global.size(); ++b) {
    if (global[b].size() != ids[b].size())
      throw Error(ErrorKind::kInvalidInput, "generate: global_attention_mask row " + std::to_string(b) + " has " +
                                                std::to_string(global[b].size()) + " values for an input of " +
                                                std::to_string(ids[b].size()) + " tokens");
    for (size_t i = 0; i < global[b].size(); ++i) {
      if (global[b][i] != 0 && global[b][i] != 1)
        throw Error(ErrorKind::kInvalidInput, "generate: global_attention_mask row " + std::to_string(b) + " position " +
                                                  std::to_string(i) + " is " + std::to_string(global[b][i]) +
                                                  " (0 local attention, 1 global attention)");
      // Encoder inputs are right-padded: position i of the row is column i.
      req.attention_mask[b * size_t(req.src_len) + i] *= global[b][i] + 1;
    }
  }
}

GenerateOutput run(const Model& model, const std::vector<std::vector<int32_t>>& ids,
                   const std::vector<std::vector<int32_t>>& mask, bool padded, const GenerationConfig& config,
                   const GenerateHooks& hooks, const GenerateOptions& options = {}) {
  gen::Request req = gen::prepare(model, ids, mask, padded, config, hooks);
  if (!options.global_attention_mask.empty()) merge_global_attention(model, ids, options.global_attention_mask, req);
  if (gen::is_assisted(req.cfg, options)) {
    if (hooks.logprobs >= 0)
      throw Error(ErrorKind::kUnsupported, "generate: per-step log-probabilities (GenerateHooks::logprobs) are not "
                                           "available with assisted generation (prompt_lookup_num_tokens or an "
                                           "assistant model)");
    if (hooks.constraint)
      throw Error(ErrorKind::kUnsupported, "generate: constrained decoding (GenerateHooks::constraint) cannot be "
                                           "combined with assisted generation (prompt_lookup_num_tokens or an "
                                           "assistant model)");
    return finish(gen::assisted_search(model, req, options), req);
  }
  if (req.cfg.num_beams > 1) return finish(gen::beam_search(model, req), req);
  return finish(gen::sample_search(model, req), req);
}

}  // namespace

GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerationConfig& config, const GenerateHooks& hooks) {
  return run(model, prompts, {}, false, config, hooks);
}

GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& input_ids,
                        const std::vector<std::vector<int32_t>>& attention_mask, const GenerationConfig& config,
                        const GenerateHooks& hooks) {
  return run(model, input_ids, attention_mask, true, config, hooks);
}

GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& prompts,
                        const GenerationConfig& config, const GenerateHooks& hooks, const GenerateOptions& options) {
  return run(model, prompts, {}, false, config, hooks, options);
}

GenerateOutput generate(const Model& model, const std::vector<std::vector<int32_t>>& input_ids,
                        const std::vector<std::vector<int32_t>>& attention_mask, const GenerationConfig& config,
                        const GenerateHooks& hooks, const GenerateOptions& options) {
  return run(model, input_ids, attention_mask, true, config, hooks, options);
}

}  // namespace autolm
