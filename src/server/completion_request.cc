// POST /v1/completions: request → Job (prompts as text or token ids).
#include "autolm/error.h"
#include "server/openai.h"
#include "server/request_common.h"
#include "server/request_fields.h"

namespace autolm::server {

Job parse_completion_request(const Engine& engine, const std::string& body) {
  static const Common common{{"model", "prompt", "max_tokens", "temperature", "top_p", "n", "stream", "stream_options",
                              "logprobs", "echo", "stop", "presence_penalty", "frequency_penalty", "best_of",
                              "logit_bias", "user", "suffix", "seed", "min_tokens", "ignore_eos"},
                             "prompt"};
  const ojson req = parse_body(engine, body);
  Job job;
  job.id = "cmpl-" + random_hex(24);
  const ojson* prompt = field(req, "prompt");
  if (!prompt) throw ApiError(400, "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  const Tokenizer& tok = *engine.tokenizer;
  const RequestLimits& lim = engine.limits;
  // Sizes are checked before anything is tokenized or copied.
  if (prompt->is_array() && int64_t(prompt->size()) > lim.max_sequences && !(*prompt)[0].is_number())
    over_limit("prompt", "the number of prompts", int64_t(prompt->size()), lim.max_sequences, "--max-sequences");
  if (prompt->is_array() && count_values(*prompt) > lim.max_prompt_tokens && !(*prompt)[0].is_string())
    over_limit("prompt", "the number of prompt tokens", count_values(*prompt), lim.max_prompt_tokens,
               "--max-prompt-tokens");
  auto int_list = [&](const ojson& a) {
    std::vector<int32_t> ids;
    for (const auto& v : a) {
      if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX)
        bad_type("prompt", *prompt, "a string, an array of strings, an array of token ids or an array of such arrays");
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    return ids;
  };
  if (prompt->is_string()) {
    job.prompts.push_back(tok.encode(prompt->get<std::string>(), true));
  } else if (prompt->is_array() && !prompt->empty()) {
    const ojson& first = (*prompt)[0];
    if (first.is_string()) {
      for (const auto& p : *prompt) {
        if (!p.is_string()) bad_type("prompt", *prompt, "an array of strings (not mixed)");
        job.prompts.push_back(tok.encode(p.get<std::string>(), true));
      }
    } else if (first.is_number_integer()) {
      job.prompts.push_back(int_list(*prompt));
    } else if (first.is_array()) {
      for (const auto& p : *prompt) {
        if (!p.is_array()) bad_type("prompt", *prompt, "an array of token-id arrays (not mixed)");
        job.prompts.push_back(int_list(p));
      }
    } else {
      bad_type("prompt", *prompt, "a string, an array of strings, an array of token ids or an array of such arrays");
    }
  } else if (prompt->is_array()) {
    bad_value("prompt", "must not be an empty array.");
  } else {
    bad_type("prompt", *prompt, "a string or an array of strings");
  }
  if (get_bool(req, "echo").value_or(false)) unsupported("echo", "echoing the prompt is not implemented.");
  if (auto lp = get_int(req, "logprobs")) {
    if (*lp < 0 || *lp > kMaxTopLogprobs)
      bad_value("logprobs", std::to_string(*lp) + " is not between 0 and " + std::to_string(kMaxTopLogprobs) + ".");
    job.logprobs = static_cast<int>(*lp);
  }
  if (const ojson* s = field(req, "suffix")) {
    if (!s->is_string()) bad_type("suffix", *s, "a string");
    if (!s->get<std::string>().empty()) unsupported("suffix", "insertion (suffix) is not implemented.");
  }
  if (auto best_of = get_int(req, "best_of")) {
    if (*best_of > lim.max_n) over_limit("best_of", "best_of", *best_of, lim.max_n, "--max-n");
    if (*best_of != get_int(req, "n").value_or(1)) unsupported("best_of", "best_of other than n is not implemented.");
  }
  apply_common(engine, req, common, job, kDefaultCompletionTokens, "max_tokens");
  apply_ignore_eos(req, job);
  return job;
}

}  // namespace autolm::server
