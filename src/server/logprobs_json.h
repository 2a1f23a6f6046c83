// OpenAI's `logprobs` objects from generate()'s per-step log-probabilities (GenerateHooks::logprobs):
// chat {"content": [{token, logprob, bytes, top_logprobs}], "refusal"} and completions
// {"tokens", "token_logprobs", "top_logprobs", "text_offset"}.
#pragma once

#include <span>

#include <nlohmann/json.hpp>

#include "autolm/generation.h"
#include "autolm/tokenizer.h"

namespace autolm::server {

// The chat choice's (or chunk's) "logprobs": {"content": [...], "refusal": null}.
nlohmann::ordered_json chat_logprobs(const Tokenizer& tok, std::span<const StepLogprobs> steps);
// The completion choice's (or chunk's) "logprobs"; `text_offset` is where the first token's
// text starts in the choice's text, advanced past every token.
nlohmann::ordered_json completion_logprobs(const Tokenizer& tok, std::span<const StepLogprobs> steps,
                                           size_t& text_offset);

}  // namespace autolm::server
