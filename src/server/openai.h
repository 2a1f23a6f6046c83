// The OpenAI request/response layer of autolm_server, independent of HTTP: request JSON →
// a validated Job (GenerationConfig + token ids), a Job → response JSON or SSE chunks.
// Implemented by concern: request_json.cc (body parsing, error shapes), request_fields.cc
// (typed fields), request_common.cc (sampling fields → GenerationConfig, limits),
// completion_request.cc, chat_request.cc (messages → prompt, tools, response_format), engine.cc,
// reply.cc (shared reply pieces, StopTrimmer), run_job.cc, stream_job.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "autolm/chat.h"
#include "autolm/generation.h"
#include "autolm/model.h"
#include "autolm/structured_output.h"
#include "autolm/tokenizer.h"
#include "server/tool_calls.h"

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

// Per-request limits: requests are untrusted, so everything that scales memory or time is
// bounded before anything is allocated or generated (ServerOptions::limits, `autolm serve
// --max-*`, docs/SERVER.md "Limits"). Refusals are 400 naming the field, the value and the limit.
struct RequestLimits {
  int json_max_depth = 64;            // JSON nesting of the body (and of tool-call arguments in it)
  int64_t max_messages = 1024;        // chat messages
  int64_t max_prompt_tokens = 32768;  // prompt tokens of one request, all prompts together
  int64_t max_tokens = 4096;          // max_tokens / max_completion_tokens
  int64_t max_n = 16;                 // n (choices per prompt; also best_of)
  int64_t max_beams = 16;             // num_beams
  int64_t max_sequences = 64;         // prompts × n × num_beams decoded as one batch
  int64_t max_stop = 16;              // stop strings
  int64_t max_stop_bytes = 256;       // bytes of one stop string
  int64_t max_token_list = 4096;      // entries of logit_bias, token ids in sequence_bias,
                                      // bad_words_ids, suppress_tokens, begin_suppress_tokens, …
  uint64_t max_request_memory = uint64_t(8) << 30;  // estimated bytes of one generation
};

// Everything per model that requests share (read-only after construction).
struct Engine {
  Engine(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer, std::string name);

  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string name;
  int64_t created = 0;          // load time, for /v1/models
  GenerationConfig base;        // GenerationConfig::for_model(model)
  // Assistant model for assisted generation (ServerOptions::draft_model) and its own config.
  std::shared_ptr<const Model> draft;
  GenerationConfig draft_config;
  // Causal: longest prompt + new tokens (0 = unbounded). Seq2seq: longest encoder input and
  // most decoder tokens (0 = unbounded). `*_why` names the source of each limit.
  int64_t context = 0, encoder_limit = 0, decoder_limit = 0;
  std::string context_why, encoder_why;
  // Chat templates, parsed once: the default one and the one chosen when tools are passed.
  std::optional<ChatTemplate> chat_template, tool_template;
  // The tool-call format of the template used with tools (kNone: `tools` are refused unless
  // tool_choice is "none"), and whether that template handles the "developer" role itself
  // (otherwise developer messages are passed as "system").
  ToolFormat tool_format = ToolFormat::kNone;
  bool mistral_args = false;  // Mistral v11+ templates: [TOOL_CALLS]name[ARGS]{…} rather than a JSON list
  bool developer_role = false;
  ojson special_tokens;
  bool seq2seq = false;
  int64_t prompt_vocab_size = 0;  // prompt ids are below it: the model's vocab_size, seq2seq the encoder's
  RequestLimits limits;
  // For the memory estimate (0 when config.json does not say): decoder layers, hidden width,
  // key/value width per layer, attention heads.
  int64_t layers = 0, width = 0, kv_width = 0, heads = 0;
  std::shared_ptr<const TokenVocabulary> token_vocabulary;  // for response_format (built once)
};

// One validated generation request.
struct Job {
  bool chat = false, stream = false, include_usage = false;
  std::vector<std::vector<int32_t>> prompts;  // distinct prompts (each generated n times)
  int n = 1;
  GenerationConfig config;
  std::vector<std::string> stop;  // trimmed from the returned text, as OpenAI does
  int prompt_tokens = 0;
  uint64_t memory_estimate = 0;  // bytes (see estimate_memory in request_common.cc)
  // Tool calls are parsed out of the reply in this format (tools given, tool_choice not "none").
  ToolFormat tool_format = ToolFormat::kNone;
  bool parallel_tool_calls = true;  // false: only the first call is returned
  int logprobs = -1;                // >= 0: log-probabilities with this many top tokens per token
  std::string id;
  int64_t created = 0;
  // response_format json_object / json_schema, or tool_choice "required" / named (tool_grammar.h).
  std::shared_ptr<const LogitsConstraint> constraint;
};

// Parses a request body (at most engine.limits.json_max_depth deep); errors are ApiError 400
// naming the field where parsing failed ("messages[0].content: number overflow …").
ojson parse_request_json(std::string_view text, int max_depth, const std::string& where = "");

Job parse_completion_request(const Engine& engine, const std::string& body);
Job parse_chat_request(const Engine& engine, const std::string& body);

// A request body as a JSON object (ApiError 400 otherwise), at most limits.json_max_depth deep.
ojson parse_body(const Engine& engine, const std::string& body);
// `messages` (+ `tools`, `chat_template_kwargs`) rendered with the chat template and tokenized,
// as /v1/chat/completions does (also used by /tokenize).
std::vector<int32_t> chat_prompt_ids(const Engine& engine, const ojson& req, bool add_generation_prompt);

// The most top tokens a request may ask log-probabilities for (OpenAI's top_logprobs maximum).
inline constexpr int kMaxTopLogprobs = 20;

// Cancellation and accounting around generate(): keep_going() is polled after every step.
struct RunControl {
  std::function<bool()> keep_going;
  std::function<void()> before_generate;  // ServerOptions::before_generate (tests), or empty
  bool cancelled = false;  // set when keep_going() returned false
  int64_t completion_tokens = 0;  // set when generation ended (metrics)
};

// Non-streaming: the whole response object.
ojson run_job(const Engine& engine, const Job& job, RunControl& control);
// Streaming: calls write() with each "data: ...\n\n" event, ending with "data: [DONE]\n\n".
// A false return from write() (client gone) stops generation. Errors become an error event.
// A generation stopped by keep_going() (server draining, request deadline) ends like one that
// reached max_tokens: its text so far, a final chunk with finish_reason "length", [DONE].
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
