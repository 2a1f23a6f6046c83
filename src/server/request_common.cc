// Sampling fields → GenerationConfig, limits and the memory estimate (request_common.h).
#include "server/request_common.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <random>

#include "autolm/error.h"
#include "io/json_file.h"
#include "server/request_fields.h"

namespace autolm::server {

namespace {

// Rough upper bound of the memory one generation allocates, float32 throughout: every row's
// self-attention K/V over prompt + new tokens (plus cross-attention K/V for seq2seq), the
// prompt pass's attention scores and activations, and a few vocab-sized buffers per row.
// Computed in double so that hostile sizes cannot overflow.
double estimate_memory(const Engine& e, int64_t rows, int64_t prompt_len, int64_t new_tokens) {
  const double f = 4, T = double(prompt_len) + double(new_tokens), L = double(prompt_len);
  const double kv = double(e.layers) * 2 * double(e.kv_width) * f;
  double per_row = T * kv + (e.seq2seq ? L * kv : 0);
  per_row += L * (double(e.heads) * L + 8 * double(e.width)) * f;
  per_row += 4 * double(std::max<int64_t>(e.model->config().vocab_size, 0)) * f;
  return double(rows) * per_row;
}

// HF GenerationConfig field names a request may set directly, and the HF names that have an
// OpenAI spelling the request must use instead.
const std::set<std::string>& hf_fields() {
  static const std::set<std::string> fields = [] {
    std::set<std::string> s;
    const nlohmann::json defaults = GenerationConfig{}.to_json();
    for (auto it = defaults.begin(); it != defaults.end(); ++it) s.insert(it.key());
    for (const char* k : {"max_length", "max_new_tokens", "do_sample", "temperature", "top_p", "num_return_sequences",
                          "stop_strings", "output_scores", "eos_token_id", "pad_token_id", "bos_token_id",
                          "decoder_start_token_id", "seed"})
      s.erase(k);
    return s;
  }();
  return fields;
}
const char* openai_spelling(const std::string& hf) {
  if (hf == "max_new_tokens" || hf == "max_length") return "max_tokens";
  if (hf == "do_sample") return "temperature (0 = greedy, > 0 = sampling)";
  if (hf == "num_return_sequences") return "n";
  if (hf == "stop_strings") return "stop";
  return nullptr;
}

}  // namespace

void apply_common(const Engine& engine, const ojson& req, const Common& c, Job& job, int64_t default_max_tokens,
                  const char* max_tokens_key) {
  // Unknown keys: HF GenerationConfig fields go through update(); the rest are refused.
  ojson overrides = ojson::object();
  for (auto& [k, v] : req.items()) {
    if (c.known.count(k)) continue;
    if (hf_fields().count(k)) {
      overrides[k] = v;
      // vLLM's top_k -1 (and 0) disables top-k, as HF's 0.
      if (k == "top_k" && v.is_number_integer() && v.get<int64_t>() == -1) overrides[k] = 0;
      continue;
    }
    if (const char* alt = openai_spelling(k))
      throw ApiError(400, "Unrecognized request argument supplied: " + k + " (use '" + alt + "')", k,
                     "unrecognized_argument");
    // Fields transformers has but autolm refuses (guidance_scale, penalty_alpha, …) keep update()'s message.
    GenerationConfig probe;
    try {
      probe.update(nlohmann::json::object({{k, to_json(v, "request field '" + k + "'")}}), "request");
    } catch (const Error& e) {
      throw ApiError(400, e.what(), k, "unsupported_value");
    }
    throw ApiError(400, "Unrecognized request argument supplied: " + k, k, "unrecognized_argument");
  }
  const RequestLimits& lim = engine.limits;
  // Token lists (sequence_bias, bad_words_ids, suppress_tokens, …) are walked at every step.
  for (auto& [k, v] : overrides.items())
    if (const int64_t n = count_values(v); n > lim.max_token_list)
      over_limit(k, "the number of values", n, lim.max_token_list, "--max-token-list");

  GenerationConfig& cfg = job.config;
  cfg = engine.base;
  try {
    cfg.update(to_json(overrides, "request"), "request");
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "", e.kind() == ErrorKind::kUnsupported ? "unsupported_value" : "invalid_value");
  }
  if (cfg.num_beams > lim.max_beams) over_limit("num_beams", "num_beams", cfg.num_beams, lim.max_beams, "--max-beams");

  // temperature: OpenAI's default 1; 0 = greedy.
  const float temperature = get_float(req, "temperature").value_or(1.0f);
  if (temperature < 0) bad_value("temperature", "must be >= 0 (0 = greedy decoding).");
  cfg.do_sample = temperature > 0;
  if (temperature > 0) cfg.temperature = temperature;
  if (auto top_p = get_float(req, "top_p")) cfg.top_p = *top_p;

  if (auto seed = get_int(req, "seed")) cfg.seed = static_cast<uint64_t>(*seed);
  else cfg.seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();

  if (auto n = get_int(req, "n")) {
    if (*n < 1) bad_value("n", std::to_string(*n) + " is less than 1.");
    if (*n > lim.max_n) over_limit("n", "n", *n, lim.max_n, "--max-n");
    job.n = static_cast<int>(*n);
  }

  if (const ojson* stop = field(req, "stop")) {
    if (stop->is_array() && int64_t(stop->size()) > lim.max_stop)
      over_limit("stop", "the number of stop sequences", int64_t(stop->size()), lim.max_stop, "--max-stop");
    if (stop->is_string()) {
      job.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const auto& s : *stop) {
        if (!s.is_string()) bad_type("stop", *stop, "a string or an array of strings");
        job.stop.push_back(s.get<std::string>());
      }
    } else {
      bad_type("stop", *stop, "a string or an array of strings");
    }
    for (const auto& s : job.stop) {
      if (s.empty()) bad_value("stop", "stop sequences must not be empty.");
      if (int64_t(s.size()) > lim.max_stop_bytes)
        over_limit("stop", "the length in bytes of a stop sequence", int64_t(s.size()), lim.max_stop_bytes,
                   "--max-stop-bytes");
    }
    cfg.stop_strings = job.stop;
  }

  job.stream = get_bool(req, "stream").value_or(false);
  if (const ojson* so = field(req, "stream_options")) {
    if (!so->is_object()) bad_type("stream_options", *so, "an object");
    if (auto inc = get_bool(*so, "include_usage")) job.include_usage = *inc && job.stream;
  }

  // OpenAI's additive penalties (the presence_frequency_penalty processor, over generated tokens).
  if (auto p = get_number(req, "presence_penalty")) {
    if (*p < -2 || *p > 2) bad_value("presence_penalty", field(req, "presence_penalty")->dump() + " is outside [-2, 2].");
    cfg.presence_penalty = static_cast<float>(*p);
  }
  if (auto p = get_number(req, "frequency_penalty")) {
    if (*p < -2 || *p > 2) bad_value("frequency_penalty", field(req, "frequency_penalty")->dump() + " is outside [-2, 2].");
    cfg.frequency_penalty = static_cast<float>(*p);
  }
  // logit_bias {"token id": bias}: one-token sequence_bias entries, which add their bias at every step.
  if (const ojson* lb = field(req, "logit_bias")) {
    if (!lb->is_object()) bad_type("logit_bias", *lb, "an object");
    if (int64_t(lb->size()) > lim.max_token_list)
      over_limit("logit_bias", "the number of entries", int64_t(lb->size()), lim.max_token_list, "--max-token-list");
    const int64_t vocab = engine.model->config().vocab_size;
    if (!lb->empty() && !cfg.sequence_bias) cfg.sequence_bias.emplace();
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      const std::string& key = it.key();
      const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
      const int64_t id = digits ? std::stoll(key) : -1;
      if (!digits || id > INT32_MAX)
        bad_value("logit_bias", "key '" + key.substr(0, 64) + "' is not a token id (a non-negative integer).");
      if (vocab > 0 && id >= vocab)
        bad_value("logit_bias", "token id " + key + " is outside the vocabulary (size " + std::to_string(vocab) + ").");
      if (!it->is_number()) bad_type("logit_bias", *it, "a number (the bias of token " + key + ")");
      const double b = it->get<double>();
      if (!(b >= -100 && b <= 100)) bad_value("logit_bias", "the bias of token " + key + " is " + it->dump() + ", outside [-100, 100].");
      cfg.sequence_bias->push_back({{id}, static_cast<float>(b)});
    }
  }
  // vLLM's min_tokens: EOS is banned until this many tokens were generated (HF min_new_tokens).
  if (auto mt = get_int(req, "min_tokens")) {
    if (*mt < 0) bad_value("min_tokens", std::to_string(*mt) + " is negative.");
    if (*mt > lim.max_tokens) over_limit("min_tokens", "min_tokens", *mt, lim.max_tokens, "--max-tokens");
    cfg.min_new_tokens = static_cast<int>(*mt);
  }
  if (const ojson* u = field(req, "user"); u && !u->is_string()) bad_type("user", *u, "a string");
  if (const ojson* m = field(req, "model"); m && !m->is_string()) bad_type("model", *m, "a string");

  // Length: max_tokens → max_new_tokens, capped so that the prompt and the reply fit.
  int64_t max_tokens = default_max_tokens;
  const bool explicit_max = field(req, max_tokens_key) != nullptr;
  if (auto mt = get_int(req, max_tokens_key)) {
    if (*mt < 1) bad_value(max_tokens_key, std::to_string(*mt) + " is less than 1; it must be at least 1.");
    if (*mt > lim.max_tokens) over_limit(max_tokens_key, max_tokens_key, *mt, lim.max_tokens, "--max-tokens");
    max_tokens = *mt;
  }
  max_tokens = std::min(max_tokens, lim.max_tokens);
  if (job.stream && cfg.num_beams > 1)
    unsupported("num_beams", "beam search cannot stream (as in transformers); set \"stream\": false.");
  if (job.logprobs >= 0 && cfg.num_beams > 1)
    unsupported("logprobs", "log probabilities are not available with beam search (num_beams > 1).");
  job.prompt_tokens = 0;
  int64_t total_tokens = 0;
  size_t longest = 0;
  for (size_t i = 0; i < job.prompts.size(); ++i) {
    const auto& p = job.prompts[i];
    if (p.empty())
      bad_value(c.prompt_field, std::string(job.prompts.size() > 1 ? "prompt " + std::to_string(i) + " " : "prompt ") +
                                    "is empty after tokenization.");
    for (int32_t t : p)
      if (t < 0 || (engine.prompt_vocab_size > 0 && t >= engine.prompt_vocab_size))
        bad_value(c.prompt_field, "token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                      std::to_string(engine.prompt_vocab_size) + ").");
    longest = std::max(longest, p.size());
    total_tokens += static_cast<int64_t>(p.size());
  }
  if (total_tokens > lim.max_prompt_tokens)
    over_limit(c.prompt_field, "the number of prompt tokens", total_tokens, lim.max_prompt_tokens, "--max-prompt-tokens");
  job.prompt_tokens = static_cast<int>(total_tokens);
  const int64_t L = static_cast<int64_t>(longest);
  if (!engine.seq2seq) {
    if (engine.context > 0 && L >= engine.context)
      throw ApiError(400, "This model's maximum context length is " + std::to_string(engine.context) + " tokens (" +
                              engine.context_why + "), but the prompt is " + std::to_string(L) +
                              " tokens, leaving no room for new tokens. Shorten the prompt.",
                     c.prompt_field, "context_length_exceeded");
    // An explicit max_tokens that does not fit is refused (vLLM's behaviour); the default is capped.
    if (engine.context > 0 && explicit_max && L + max_tokens > engine.context)
      throw ApiError(400, "This model's maximum context length is " + std::to_string(engine.context) + " tokens (" +
                              engine.context_why + "). However, you requested " + std::to_string(L + max_tokens) +
                              " tokens (" + std::to_string(L) + " in the prompt, " + std::to_string(max_tokens) +
                              " in the completion). Please reduce the length of the prompt or " + max_tokens_key + ".",
                     max_tokens_key, "context_length_exceeded");
    if (engine.context > 0) max_tokens = std::min(max_tokens, engine.context - L);
  } else {
    if (engine.encoder_limit > 0 && L > engine.encoder_limit)
      throw ApiError(400, "This model accepts at most " + std::to_string(engine.encoder_limit) + " input tokens (" +
                              engine.encoder_why + "), but the prompt is " + std::to_string(L) +
                              " tokens. Shorten the prompt.",
                     c.prompt_field, "context_length_exceeded");
    if (engine.decoder_limit > 0 && explicit_max && max_tokens > engine.decoder_limit - 1)
      throw ApiError(400, "This model generates at most " + std::to_string(engine.decoder_limit - 1) +
                              " tokens (config.json max positions, one taken by the decoder start), but " +
                              max_tokens_key + " is " + std::to_string(max_tokens) + ".",
                     max_tokens_key, "context_length_exceeded");
    if (engine.decoder_limit > 0) max_tokens = std::min(max_tokens, engine.decoder_limit - 1);
  }
  cfg.max_new_tokens = static_cast<int>(std::max<int64_t>(1, max_tokens));
  cfg.max_length.reset();
  // One batch of prompts × n × num_beams rows: bounded in count, then in estimated memory.
  const int64_t rows = static_cast<int64_t>(job.prompts.size()) * job.n * std::max(cfg.num_beams, 1);
  if (rows > lim.max_sequences)
    over_limit(cfg.num_beams > 1 ? "num_beams" : job.chat ? "n" : "prompt", "prompts × n × num_beams", rows,
               lim.max_sequences, "--max-sequences");
  try {
    cfg.validate();
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "", "invalid_value");
  }
  double bytes = estimate_memory(engine, rows, L, cfg.max_new_tokens.value_or(0));
  // Log-probabilities: per token, its entry and its top entries, in the response (~256 bytes each).
  if (job.logprobs >= 0) bytes += double(rows) * double(cfg.max_new_tokens.value_or(0)) * (job.logprobs + 1) * 256.0;
  if (bytes > double(lim.max_request_memory))
    throw ApiError(400,
                   "This request would need about " + std::to_string(int64_t(std::min(bytes, 9e18)) >> 20) +
                       " MiB (" + std::to_string(rows) + " sequences of " + std::to_string(L) + " prompt + " +
                       std::to_string(*cfg.max_new_tokens) + " new tokens), more than this server's limit of " +
                       std::to_string(lim.max_request_memory >> 20) +
                       " MiB per request (autolm serve --max-request-memory). Lower max_tokens, n or num_beams, or "
                       "shorten the prompt.",
                   cfg.num_beams > 1 ? "num_beams" : max_tokens_key, "limit_exceeded");
  job.memory_estimate = static_cast<uint64_t>(bytes);
  job.created = static_cast<int64_t>(std::time(nullptr));
}

void apply_ignore_eos(const ojson& req, Job& job) {
  if (!get_bool(req, "ignore_eos").value_or(false)) return;
  auto& cfg = job.config;
  if (!cfg.pad_token_id && !cfg.eos_token_id.empty()) cfg.pad_token_id = cfg.eos_token_id[0];
  cfg.eos_token_id.clear();
}

}  // namespace autolm::server
