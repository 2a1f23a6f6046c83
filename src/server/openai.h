// The OpenAI request/response layer of autolm_server, independent of HTTP: request JSON →
// a validated Job (GenerationConfig + token ids), a Job → response JSON or SSE chunks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autolm/chat.h"
#include "autolm/generation.h"
#include "autolm/model.h"
#include "autolm/tokenizer.h"

namespace autolm::server {

using ojson = nlohmann::ordered_json;

// A request the server refuses: becomes {"error": {message, type, param, code}} with `status`.
struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& message, std::string param = "", std::string code = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), code(std::move(code)), type(std::move(type)) {}
  int status;
  std::string param, code, type;
};

// OpenAI's error object; empty param / code become null.
ojson error_body(const std::string& message, const std::string& type, const std::string& param = "",
                 const std::string& code = "");
// JSON text that never throws on invalid UTF-8 (replaced by U+FFFD).
std::string dump(const ojson& j);

// Everything per model that requests share (read-only after construction).
struct Engine {
  Engine(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer, std::string name);

  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string name;
  int64_t created = 0;          // load time, for /v1/models
  GenerationConfig base;        // GenerationConfig::for_model(model)
  // Causal: longest prompt + new tokens (0 = unbounded). Seq2seq: longest encoder input and
  // most decoder tokens (0 = unbounded). `*_why` names the source of each limit.
  int64_t context = 0, encoder_limit = 0, decoder_limit = 0;
  std::string context_why, encoder_why;
  // Chat templates, parsed once: the default one and the one chosen when tools are passed.
  std::optional<ChatTemplate> chat_template, tool_template;
  ojson special_tokens;
  bool seq2seq = false;
};

// One validated generation request.
struct Job {
  bool chat = false, stream = false, include_usage = false;
  std::vector<std::vector<int32_t>> prompts;  // distinct prompts (each generated n times)
  int n = 1;
  GenerationConfig config;
  std::vector<std::string> stop;  // trimmed from the returned text, as OpenAI does
  int prompt_tokens = 0;
  std::string id;
  int64_t created = 0;
};

Job parse_completion_request(const Engine& engine, const std::string& body);
Job parse_chat_request(const Engine& engine, const std::string& body);

// Cancellation and accounting around generate(): keep_going() is polled after every step.
struct RunControl {
  std::function<bool()> keep_going;
  bool cancelled = false;  // set when keep_going() returned false
};

// Non-streaming: the whole response object.
ojson run_job(const Engine& engine, const Job& job, RunControl& control);
// Streaming: calls write() with each "data: ...\n\n" event, ending with "data: [DONE]\n\n".
// A false return from write() (client gone) stops generation. Errors become an error event.
void stream_job(const Engine& engine, const Job& job, RunControl& control,
                const std::function<bool(const std::string&)>& write);
// The SSE event for an error after the stream started (or before, for a refused slot).
std::string error_event(const std::string& message, const std::string& type);

// Holds back text that could be the start of a stop string and cuts the text at the first
// stop string, so streamed and whole responses end at the same place (OpenAI omits the stop
// sequence from the text).
class StopTrimmer {
 public:
  explicit StopTrimmer(const std::vector<std::string>& stops) : stops_(&stops) {}
  std::string push(const std::string& piece);  // text that is safe to emit now
  std::string finish();                        // the held-back tail (nothing after a hit)
  bool hit() const { return hit_; }

 private:
  const std::vector<std::string>* stops_;
  std::string pending_;
  bool hit_ = false;
};

}  // namespace autolm::server
