// Shared reply pieces (reply.h) and StopTrimmer (openai.h).
#include "server/reply.h"

#include <algorithm>
#include <utility>

namespace autolm::server {

const char* finish_name(FinishReason r) {
  switch (r) {
    case FinishReason::kEos:
    case FinishReason::kStopString:
      return "stop";
    default:
      return "length";
  }
}

std::span<const int32_t> generated(const GenerateOutput& out, size_t r) {
  return std::span<const int32_t>(out.sequences[r]).subspan(out.prompt_length, out.num_generated[r]);
}

std::vector<std::vector<int32_t>> rows_of(const Job& job) {
  std::vector<std::vector<int32_t>> rows;
  for (const auto& p : job.prompts)
    for (int j = 0; j < job.n; ++j) rows.push_back(p);
  return rows;
}

ojson usage(const Job& job, int completion_tokens, const GenerateOutput& out) {
  ojson u = {{"prompt_tokens", job.prompt_tokens},
             {"completion_tokens", completion_tokens},
             {"total_tokens", job.prompt_tokens + completion_tokens}};
  // Assisted generation: the drafts the model accepted and rejected (OpenAI's predicted-output
  // counters).
  if (out.draft_tokens > 0)
    u["completion_tokens_details"] = {{"accepted_prediction_tokens", out.accepted_draft_tokens},
                                      {"rejected_prediction_tokens", out.draft_tokens - out.accepted_draft_tokens}};
  return u;
}

GenerateOptions assist(const Engine& engine, const Job& job, size_t rows) {
  GenerateOptions o;
  // Assisted generation reports no per-step log-probabilities and takes no constraint: requests
  // asking for either run plainly.
  if (engine.draft && rows == 1 && job.config.num_beams == 1 && job.logprobs < 0 && !job.constraint) {
    o.assistant_model = engine.draft.get();
    o.assistant_generation_config = &engine.draft_config;
  }
  return o;
}

GenerateHooks base_hooks(const Engine& engine, const Job& job) {
  GenerateHooks hooks;
  auto tok = engine.tokenizer;
  hooks.decode = [tok](std::span<const int32_t> ids) { return tok->decode(ids, false); };
  hooks.constraint = job.constraint;
  return hooks;
}

ojson tool_call_json(const ToolCall& c, size_t index, bool with_index) {
  ojson j = ojson::object();
  if (with_index) j["index"] = index;
  j["id"] = c.id;
  j["type"] = "function";
  j["function"] = {{"name", c.name}, {"arguments", c.arguments}};
  return j;
}

std::vector<StepLogprobs> text_logprobs(const std::vector<StepLogprobs>& steps, const ReplyTokens& rt) {
  std::vector<StepLogprobs> out;
  for (const auto& s : steps)
    if (!rt.is_end(s.chosen.token)) out.push_back(s);
  return out;
}

std::string StopTrimmer::push(const std::string& piece) {
  if (hit_) return "";
  pending_ += piece;
  if (stops_->empty()) return std::exchange(pending_, std::string());
  size_t first = std::string::npos;
  for (const auto& s : *stops_) first = std::min(first, pending_.find(s));
  if (first != std::string::npos) {
    hit_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that could still grow into a stop string.
  size_t hold = 0;
  for (const auto& s : *stops_)
    for (size_t k = std::min(s.size() - 1, pending_.size()); k > hold; --k)
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopTrimmer::finish() {
  if (hit_) return "";
  return std::exchange(pending_, std::string());
}

}  // namespace autolm::server
