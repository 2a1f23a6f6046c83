// Tool calls out of a chat reply: which format a chat template teaches the model (as vLLM's
// --tool-call-parser / llama-server's --jinja choose one), and a streaming parser per format that
// turns generated text into OpenAI `tool_calls` and the remaining `content` (docs/SERVER.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace autolm::server {

enum class ToolFormat {
  kNone,        // the template shows no format autolm can parse: `tools` are refused
  kHermes,      // Hermes 2 Pro, Qwen2.5, Qwen3, QwQ: <tool_call>{"name", "arguments"}</tool_call>
  kLlama3Json,  // Llama 3.1+: [<|python_tag|>]{"name", "parameters"} (several separated by ';')
  kMistral,     // Mistral: [TOOL_CALLS][{"name", "arguments"}, …] or [TOOL_CALLS]name[ARGS]{…}
};

// The format a chat template's source renders tool calls in, from the markers it writes.
ToolFormat detect_tool_format(std::string_view template_source);
// "hermes" | "llama3_json" | "mistral" | "none" (vLLM's parser names).
const char* tool_format_name(ToolFormat f);

struct ToolCall {
  std::string id;         // "call_" + 24 hex digits; Mistral: 9 letters/digits (its templates require it)
  std::string name;
  std::string arguments;  // the arguments object as JSON text
};

// What one piece of generated text adds to the reply.
struct ToolDelta {
  std::string content;          // plain text to append to `content`
  std::vector<ToolCall> calls;  // complete calls, in order
};

// Splits a reply, fed piece by piece as it is generated, into content and tool calls. Text that
// could be the start of a call marker is held back until known; a call is emitted once complete
// (its arguments whole, in one delta). Whitespace between content and a call is dropped. A call
// that does not parse (bad JSON, no name, arguments not an object) is returned as content, its
// markers included, so malformed output becomes a plain message. Feeding the whole text at once
// gives the same result as any split of it. JSON is parsed at most `max_depth` deep.
class ToolCallParser {
 public:
  ToolCallParser(ToolFormat format, int max_depth);
  ToolDelta push(std::string_view piece);
  ToolDelta finish();
  int calls() const { return calls_; }  // calls emitted so far

 private:
  void scan(ToolDelta& out, bool at_end);
  void emit_text(ToolDelta& out, std::string_view text);
  void close_call(ToolDelta& out, std::string_view body, std::string_view raw);
  bool parse_body(std::string_view body, std::vector<ToolCall>& calls) const;
  ToolCall make_call(std::string name, std::string arguments) const;

  ToolFormat format_;
  int max_depth_;
  std::string buf_;         // unconsumed text
  std::string marker_;      // the start marker of the call being read
  std::string ws_;          // trailing whitespace of content, held until text follows
  bool in_call_ = false;    // buf_ holds a call's body (after its start marker)
  bool started_ = false;    // any non-whitespace text seen (Llama 3's JSON must come first)
  bool skip_ws_ = false;    // drop whitespace right after a call
  int calls_ = 0;
};

// Whole-text convenience: content (without calls) and the calls.
ToolDelta parse_tool_calls(ToolFormat format, std::string_view text, int max_depth);

}  // namespace autolm::server
