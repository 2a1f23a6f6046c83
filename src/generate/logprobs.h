// Per-step log-probabilities for GenerateHooks::logprobs: log_softmax of one row of raw logits,
// the chosen token's value and the most likely tokens'.
#pragma once

#include <cstdint>
#include <span>

#include "autolm/generation.h"

namespace autolm::gen {

// Fills `out` from logits [vocab]: out.chosen = (token, logits[token] - logsumexp(logits)) and
// out.top = the `top_n` largest (descending; equal values: lower id first). The logsumexp is
// accumulated in double. Reuses out.top's capacity.
void token_logprobs(std::span<const float> logits, int32_t token, int top_n, StepLogprobs& out);

}  // namespace autolm::gen
