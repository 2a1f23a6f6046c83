// What whole and streamed replies share (internal to autolm_server): the generate() call's
// options for a Job, finish reasons, usage, which tokens make the reply's text, tool-call JSON.
#pragma once

#include <algorithm>
#include <span>
#include <vector>

#include "server/openai.h"

namespace autolm::server {

const char* finish_name(FinishReason r);
// Row r's generated tokens.
std::span<const int32_t> generated(const GenerateOutput& out, size_t r);
// The rows to generate: each prompt n times.
std::vector<std::vector<int32_t>> rows_of(const Job& job);
ojson usage(const Job& job, int completion_tokens, const GenerateOutput& out);
// The draft model assists requests that transformers' assisted generation accepts: one
// sequence, greedy or sampling.
GenerateOptions assist(const Engine& engine, const Job& job, size_t rows);
GenerateHooks base_hooks(const Engine& engine, const Job& job);

// Tokens that end a reply (EOS, the end-of-turn token): with tool parsing the reply is decoded
// with its special tokens (Mistral's [TOOL_CALLS], Llama's <|python_tag|> are special), minus these.
struct ReplyTokens {
  explicit ReplyTokens(const Engine& engine, const Job& job) : keep_special(job.tool_format != ToolFormat::kNone) {
    ends.assign(job.config.eos_token_id.begin(), job.config.eos_token_id.end());
    if (auto e = engine.tokenizer->eos_token_id()) ends.push_back(*e);
  }
  bool is_end(int32_t t) const { return std::find(ends.begin(), ends.end(), int64_t(t)) != ends.end(); }
  std::vector<int32_t> text_ids(std::span<const int32_t> ids) const {
    std::vector<int32_t> out;
    for (int32_t t : ids)
      if (!keep_special || !is_end(t)) out.push_back(t);
    return out;
  }
  bool keep_special;
  std::vector<int64_t> ends;
};

// {"index"?, "id", "type": "function", "function": {"name", "arguments"}}.
ojson tool_call_json(const ToolCall& c, size_t index, bool with_index);
// Per-token log-probabilities of the tokens that make the reply's text (EOS left out).
std::vector<StepLogprobs> text_logprobs(const std::vector<StepLogprobs>& steps, const ReplyTokens& rt);

}  // namespace autolm::server
