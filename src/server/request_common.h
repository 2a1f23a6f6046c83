// What /v1/completions and /v1/chat/completions share (internal to autolm_server): sampling
// fields → GenerationConfig (OpenAI names, vLLM extras, HF GenerationConfig fields), the
// per-request limits and the memory estimate (docs/SERVER.md "Sampling fields").
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "server/openai.h"

namespace autolm::server {

inline constexpr int kDefaultCompletionTokens = 16;  // OpenAI's max_tokens default for /v1/completions
inline constexpr int kDefaultChatTokens = 256;       // `autolm chat`'s default when the folder sets none

struct Common {
  std::set<std::string> known;  // OpenAI keys of this endpoint
  const char* prompt_field;      // "prompt" | "messages"
};

// Applies the fields both endpoints share to `job.config` (on top of engine.base).
void apply_common(const Engine& engine, const ojson& req, const Common& c, Job& job, int64_t default_max_tokens,
                  const char* max_tokens_key);
// vLLM's ignore_eos: generation goes on past EOS (until max_tokens or a stop string).
void apply_ignore_eos(const ojson& req, Job& job);

}  // namespace autolm::server
