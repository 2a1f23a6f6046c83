// A Job run to the end: the whole response object (choices, tool calls, logprobs, usage).
#include "server/logprobs_json.h"
#include "server/openai.h"
#include "server/reply.h"

namespace autolm::server {

ojson run_job(const Engine& engine, const Job& job, RunControl& control) {
  GenerateHooks hooks = base_hooks(engine, job);
  const auto rows = rows_of(job);
  std::vector<std::vector<StepLogprobs>> steps(job.logprobs >= 0 ? rows.size() : 0);
  if (job.config.num_beams == 1) {
    hooks.logprobs = job.logprobs;
    hooks.on_step = [&](const StreamStep& step) {
      for (size_t r = 0; r < steps.size(); ++r)
        if (step.was_active[r]) steps[r].push_back(step.logprobs[r]);
      if (control.keep_going && !control.keep_going()) {
        control.cancelled = true;
        return false;
      }
      return true;
    };
  }
  if (control.before_generate) control.before_generate();
  const GenerateOutput out = generate(*engine.model, rows, job.config, hooks, assist(engine, job, rows.size()));
  const ReplyTokens rt(engine, job);
  const Tokenizer& tok = *engine.tokenizer;
  ojson choices = ojson::array();
  int completion_tokens = 0;
  for (size_t r = 0; r < out.sequences.size(); ++r) {
    StopTrimmer trim(job.stop);
    std::string text = trim.push(tok.decode(rt.text_ids(generated(out, r)), !rt.keep_special));
    text += trim.finish();
    const char* finish = trim.hit() ? "stop" : finish_name(out.finish_reasons[r]);
    completion_tokens += out.num_generated[r];
    ojson logprobs = nullptr;
    size_t offset = 0;
    if (!steps.empty())
      logprobs = job.chat ? chat_logprobs(tok, text_logprobs(steps[r], rt))
                          : completion_logprobs(tok, text_logprobs(steps[r], rt), offset);
    if (!job.chat) {
      choices.push_back({{"text", text}, {"index", r}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
      continue;
    }
    ojson message = {{"role", "assistant"}, {"content", text}};
    if (job.tool_format != ToolFormat::kNone) {
      ToolDelta d = parse_tool_calls(job.tool_format, text, engine.limits.json_max_depth);
      if (!d.calls.empty()) {
        message["content"] = d.content.empty() ? ojson(nullptr) : ojson(d.content);
        ojson calls = ojson::array();
        for (size_t k = 0; k < d.calls.size() && (job.parallel_tool_calls || k == 0); ++k)
          calls.push_back(tool_call_json(d.calls[k], k, false));
        message["tool_calls"] = std::move(calls);
        finish = "tool_calls";
      }
    }
    choices.push_back(
        {{"index", r}, {"message", std::move(message)}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
  }
  control.completion_tokens = completion_tokens;
  return {{"id", job.id},
          {"object", job.chat ? "chat.completion" : "text_completion"},
          {"created", job.created},
          {"model", engine.name},
          {"choices", std::move(choices)},
          {"usage", usage(job, completion_tokens, out)}};
}

}  // namespace autolm::server
