// A Job streamed: SSE chunks as tokens arrive (content, tool calls once complete, logprobs),
// the finish chunk, usage, [DONE]; errors after the start become an error event.
#include "autolm/error.h"
#include "server/logprobs_json.h"
#include "server/openai.h"
#include "server/reply.h"

namespace autolm::server {

void stream_job(const Engine& engine, const Job& job, RunControl& control,
                const std::function<bool(const std::string&)>& write) {
  bool open = true;  // the client still reads
  auto send = [&](const ojson& chunk) {
    if (open && !write("data: " + dump(chunk) + "\n\n")) open = false;
    return open;
  };
  auto chunk = [&](ojson choices) {
    ojson c = {{"id", job.id},
               {"object", job.chat ? "chat.completion.chunk" : "text_completion"},
               {"created", job.created},
               {"model", engine.name},
               {"choices", std::move(choices)}};
    if (job.include_usage) c["usage"] = nullptr;
    return c;
  };
  const Tokenizer& tok = *engine.tokenizer;
  const ReplyTokens rt(engine, job);
  // Per choice: what was generated but not sent yet.
  struct Row {
    std::optional<StreamDecoder> decoder;
    std::optional<StopTrimmer> trim;
    std::optional<ToolCallParser> tools;
    std::vector<StepLogprobs> logprobs;  // entries of tokens whose text was not sent yet
    size_t text_offset = 0;
    int calls = 0;
  };
  // A chunk for choice r: `delta` (chat) or text (completions), with the pending log-probabilities.
  auto piece = [&](size_t r, Row& row, ojson delta, const std::string& text, const char* finish) {
    ojson choice;
    ojson logprobs = nullptr;
    if (job.logprobs >= 0 && (!row.logprobs.empty() || finish)) {
      logprobs = job.chat ? chat_logprobs(tok, row.logprobs) : completion_logprobs(tok, row.logprobs, row.text_offset);
      row.logprobs.clear();
    }
    if (job.chat) choice = {{"index", r}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)}};
    else choice = {{"text", text}, {"index", r}, {"logprobs", std::move(logprobs)}};
    choice["finish_reason"] = finish ? ojson(finish) : ojson(nullptr);
    return chunk(ojson::array({std::move(choice)}));
  };
  // Sends what `text` (after stop trimming) adds to choice r: content, and tool calls when parsed.
  auto emit = [&](size_t r, Row& row, const std::string& text, bool last) {
    ToolDelta d;
    if (row.tools) {
      d = row.tools->push(text);
      if (last) {
        ToolDelta end = row.tools->finish();
        d.content += end.content;
        for (auto& c : end.calls) d.calls.push_back(std::move(c));
      }
    } else {
      d.content = text;
    }
    if (!d.content.empty()) send(piece(r, row, job.chat ? ojson{{"content", d.content}} : ojson(), d.content, nullptr));
    for (auto& c : d.calls) {
      const int k = row.calls++;
      if (!job.parallel_tool_calls && k > 0) continue;
      send(piece(r, row, {{"tool_calls", ojson::array({tool_call_json(c, size_t(k), true)})}}, "", nullptr));
    }
  };

  try {
    const auto prompts = rows_of(job);
    std::vector<Row> rows(prompts.size());
    for (auto& row : rows) {
      row.decoder.emplace(tok, !rt.keep_special);
      row.trim.emplace(job.stop);
      if (job.tool_format != ToolFormat::kNone) row.tools.emplace(job.tool_format, engine.limits.json_max_depth);
    }
    if (job.chat)
      for (size_t r = 0; r < rows.size(); ++r)
        send(chunk(ojson::array(
            {{{"index", r}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}})));

    GenerateHooks hooks = base_hooks(engine, job);
    hooks.logprobs = job.logprobs;
    hooks.on_step = [&](const StreamStep& step) {
      for (size_t r = 0; r < rows.size() && open; ++r) {
        if (!step.was_active[r]) continue;
        Row& row = rows[r];
        const int32_t t = step.tokens[r];
        if (job.logprobs >= 0 && !rt.is_end(t)) row.logprobs.push_back(step.logprobs[r]);
        if (rt.keep_special && rt.is_end(t)) continue;
        emit(r, row, row.trim->push(row.decoder->put(t)), false);
      }
      if (!open || (control.keep_going && !control.keep_going())) {
        control.cancelled = true;
        return false;
      }
      return true;
    };
    if (control.before_generate) control.before_generate();
    const GenerateOutput out = generate(*engine.model, prompts, job.config, hooks, assist(engine, job, prompts.size()));
    // Cancelled by drain or the request deadline: the stream still ends properly (final chunk
    // with finish_reason "length", usage, [DONE]).
    int completion_tokens = 0;
    for (size_t r = 0; r < rows.size(); ++r) {
      Row& row = rows[r];
      std::string tail = row.trim->push(row.decoder->finish());
      tail += row.trim->finish();
      emit(r, row, tail, true);
      const char* finish = row.calls > 0           ? "tool_calls"
                           : row.trim->hit()       ? "stop"
                           : control.cancelled     ? "length"
                                                   : finish_name(out.finish_reasons[r]);
      send(piece(r, row, ojson::object(), "", finish));
      completion_tokens += out.num_generated[r];
    }
    control.completion_tokens = completion_tokens;
    if (job.include_usage) {
      ojson last = chunk(ojson::array());
      last["usage"] = usage(job, completion_tokens, out);
      send(last);
    }
  } catch (const Error& e) {
    if (open) open = write(error_event(e.what(), e.kind() == ErrorKind::kInternal ? "server_error" : "invalid_request_error"));
  } catch (const std::bad_alloc&) {
    if (open) open = write(error_event("out of memory", "server_error"));
  } catch (const std::exception& e) {
    if (open) open = write(error_event(std::string("internal error: ") + e.what(), "server_error"));
  } catch (...) {
    if (open) open = write(error_event("internal error", "server_error"));
  }
  if (open) write("data: [DONE]\n\n");
}

}  // namespace autolm::server
