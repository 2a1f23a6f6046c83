// Tool-call formats and their streaming parser (tool_calls.h). The formats follow vLLM's
// hermes_tool_parser.py, llama_tool_parser.py (llama3_json) and mistral_tool_parser.py.
#include "server/tool_calls.h"

#include <random>

#include <nlohmann/json.hpp>

#include "autolm/error.h"
#include "io/json_file.h"

namespace autolm::server {

namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kHermesStart = "<tool_call>", kHermesEnd = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralStart = "[TOOL_CALLS]", kMistralArgs = "[ARGS]", kMistralCallId = "[CALL_ID]";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t partial_marker(std::string_view text, std::string_view marker) {
  for (size_t k = std::min(marker.size() - 1, text.size()); k > 0; --k)
    if (text.substr(text.size() - k) == marker.substr(0, k)) return k;
  return 0;
}

// The end (one past) of the JSON object or array that starts text, found by counting brackets
// outside strings; npos when it does not close.
size_t json_value_end(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
      if (depth < 0) return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

std::string random_id(ToolFormat f) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  if (f == ToolFormat::kMistral) {  // Mistral's templates refuse ids other than 9 alphanumerics
    static const char* chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    std::string s(9, 'a');
    for (auto& c : s) c = chars[rng() % 62];
    return s;
  }
  static const char* digits = "0123456789abcdef";
  std::string s = "call_" + std::string(24, '0');
  for (size_t i = 5; i < s.size(); ++i) s[i] = digits[rng() & 15];
  return s;
}

// One call object: {"name": "...", "arguments" | "parameters": {...} or a JSON-object string}.
bool call_from_object(const ojson& o, std::string& name, std::string& arguments, int max_depth) {
  if (!o.is_object() || !o.contains("name") || !o["name"].is_string() || o["name"].get<std::string>().empty())
    return false;
  name = o["name"].get<std::string>();
  const char* key = o.contains("arguments") ? "arguments" : o.contains("parameters") ? "parameters" : nullptr;
  if (!key) {
    arguments = "{}";
    return true;
  }
  const ojson& a = o[key];
  if (a.is_object()) {
    arguments = a.dump(-1, ' ', false, ojson::error_handler_t::replace);
    return true;
  }
  if (a.is_string()) {  // some models write the arguments as a JSON string
    try {
      if (parse_json<ojson>(a.get<std::string>(), "tool call arguments", max_depth).is_object()) {
        arguments = a.get<std::string>();
        return true;
      }
    } catch (const Error&) {
    }
  }
  return false;
}

}  // namespace

ToolFormat detect_tool_format(std::string_view src) {
  auto has = [&](std::string_view s) { return src.find(s) != std::string_view::npos; };
  if (has(kMistralStart)) return ToolFormat::kMistral;
  if (has(kHermesStart)) return ToolFormat::kHermes;
  // Llama 3.1 / 3.2 / 3.3 ask for {"name": function name, "parameters": dictionary of argument name
  // and its value}; other Llama-3-based templates with <|python_tag|> (functionary) use their own.
  if (has("<|start_header_id|>") && has("\"parameters\": dictionary of argument name")) return ToolFormat::kLlama3Json;
  return ToolFormat::kNone;
}

const char* tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::kHermes: return "hermes";
    case ToolFormat::kLlama3Json: return "llama3_json";
    case ToolFormat::kMistral: return "mistral";
    default: return "none";
  }
}

ToolCallParser::ToolCallParser(ToolFormat format, int max_depth) : format_(format), max_depth_(max_depth) {}

ToolDelta ToolCallParser::push(std::string_view piece) {
  ToolDelta out;
  buf_.append(piece);
  scan(out, false);
  return out;
}

ToolDelta ToolCallParser::finish() {
  ToolDelta out;
  scan(out, true);
  if (calls_ == 0) out.content += ws_;  // a plain reply keeps its trailing whitespace
  ws_.clear();
  return out;
}

void ToolCallParser::scan(ToolDelta& out, bool at_end) {
  while (true) {
    if (!in_call_) {
      const std::string_view start = format_ == ToolFormat::kHermes  ? kHermesStart
                                     : format_ == ToolFormat::kMistral ? kMistralStart
                                                                       : kPythonTag;
      size_t pos = buf_.find(start);
      size_t skip = start.size();
      if (format_ == ToolFormat::kLlama3Json && !started_) {
        // Llama 3's bare JSON call must be the whole reply: a '{' before any other text.
        const size_t first = buf_.find_first_not_of(" \n\t\r");
        if (first != std::string::npos && buf_[first] == '{' && first < pos) {
          pos = first;
          skip = 0;
        }
        if (first == std::string::npos && !at_end) return;  // only whitespace so far
      }
      if (pos == std::string::npos) {
        const size_t hold = at_end ? 0 : partial_marker(buf_, start);
        emit_text(out, std::string_view(buf_).substr(0, buf_.size() - hold));
        buf_.erase(0, buf_.size() - hold);
        return;
      }
      emit_text(out, std::string_view(buf_).substr(0, pos));
      marker_ = buf_.substr(pos, skip);
      buf_.erase(0, pos + skip);
      in_call_ = true;
      continue;
    }
    if (format_ == ToolFormat::kHermes) {
      const size_t end = buf_.find(kHermesEnd);
      if (end != std::string::npos) {
        const std::string body = buf_.substr(0, end);
        close_call(out, body, marker_ + body + std::string(kHermesEnd));
        buf_.erase(0, end + kHermesEnd.size());
        in_call_ = false;
        continue;
      }
    }
    // Unterminated Hermes calls (vLLM accepts them) and the other formats end with the reply.
    if (!at_end) return;
    const std::string body = std::move(buf_);
    buf_.clear();
    in_call_ = false;
    close_call(out, body, marker_ + body);
    return;
  }
}

void ToolCallParser::emit_text(ToolDelta& out, std::string_view text) {
  if (skip_ws_) {
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    if (text.empty()) return;
    skip_ws_ = false;
  }
  size_t body = text.size();
  while (body > 0 && is_space(text[body - 1])) --body;
  if (body > 0) {
    out.content += ws_;
    out.content.append(text.substr(0, body));
    ws_.clear();
    started_ = true;
  }
  ws_.append(text.substr(body));
}

void ToolCallParser::close_call(ToolDelta& out, std::string_view body, std::string_view raw) {
  std::vector<ToolCall> calls;
  if (parse_body(body, calls)) {
    ws_.clear();  // whitespace between content and a call is dropped
    skip_ws_ = true;
    started_ = true;
    calls_ += static_cast<int>(calls.size());
    for (auto& c : calls) out.calls.push_back(std::move(c));
    return;
  }
  // Not a call after all: the text, markers included, is content.
  out.content += ws_;
  ws_.clear();
  size_t keep = raw.size();
  while (keep > 0 && is_space(raw[keep - 1])) --keep;
  out.content.append(raw.substr(0, keep));
  ws_.append(raw.substr(keep));
  started_ = true;
}

ToolCall ToolCallParser::make_call(std::string name, std::string arguments) const {
  return ToolCall{random_id(format_), std::move(name), std::move(arguments)};
}

bool ToolCallParser::parse_body(std::string_view body, std::vector<ToolCall>& calls) const {
  auto parse = [&](std::string_view text, ojson& v) {
    try {
      v = parse_json<ojson>(text, "tool call", max_depth_);
      return true;
    } catch (const Error&) {
      return false;
    }
  };
  auto add = [&](const ojson& o) {
    std::string name, args;
    if (!call_from_object(o, name, args, max_depth_)) return false;
    calls.push_back(make_call(std::move(name), std::move(args)));
    return true;
  };
  // A sequence of JSON values (objects, or arrays of objects), separated by whitespace, ';' or ','.
  auto json_sequence = [&](std::string_view text) {
    text = trim(text);
    if (text.empty()) return false;
    while (!text.empty()) {
      const size_t end = json_value_end(text);
      if (end == std::string_view::npos) return false;
      ojson v;
      if (!parse(text.substr(0, end), v)) return false;
      if (v.is_array()) {
        if (v.empty()) return false;
        for (const auto& o : v)
          if (!add(o)) return false;
      } else if (!add(v)) {
        return false;
      }
      text.remove_prefix(end);
      while (!text.empty() && (is_space(text.front()) || text.front() == ';' || text.front() == ','))
        text.remove_prefix(1);
    }
    return true;
  };
  switch (format_) {
    case ToolFormat::kHermes: {
      ojson v;
      return parse(trim(body), v) && add(v);
    }
    case ToolFormat::kLlama3Json: {
      std::string_view b = trim(body);
      if (b.substr(0, kPythonTag.size()) == kPythonTag) b.remove_prefix(kPythonTag.size());
      return json_sequence(b);
    }
    case ToolFormat::kMistral: {
      std::string_view b = trim(body);
      if (!b.empty() && (b.front() == '[' || b.front() == '{')) return json_sequence(b);  // v3: a JSON list
      // v11+: name[ARGS]{…} or name[CALL_ID]id[ARGS]{…}, each after its own [TOOL_CALLS].
      while (!b.empty()) {
        size_t next = b.find(kMistralStart);
        std::string_view one = b.substr(0, next);
        b = next == std::string_view::npos ? std::string_view() : b.substr(next + kMistralStart.size());
        const size_t args = one.find(kMistralArgs);
        if (args == std::string_view::npos) return false;
        std::string_view name = one.substr(0, args);
        if (const size_t id = name.find(kMistralCallId); id != std::string_view::npos) name = name.substr(0, id);
        name = trim(name);
        ojson a;
        if (name.empty() || !parse(trim(one.substr(args + kMistralArgs.size())), a) || !a.is_object()) return false;
        calls.push_back(make_call(std::string(name), a.dump(-1, ' ', false, ojson::error_handler_t::replace)));
      }
      return !calls.empty();
    }
    default:
      return false;
  }
}

ToolDelta parse_tool_calls(ToolFormat format, std::string_view text, int max_depth) {
  ToolCallParser p(format, max_depth);
  ToolDelta out = p.push(text);
  ToolDelta end = p.finish();
  out.content += end.content;
  for (auto& c : end.calls) out.calls.push_back(std::move(c));
  return out;
}

}  // namespace autolm::server
