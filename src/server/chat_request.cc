// POST /v1/chat/completions: messages → prompt through the chat template, tools and
// tool_choice (forced calls: tool_grammar.h), response_format, → Job.
#include <algorithm>

#include "autolm/error.h"
#include "autolm/structured_output.h"
#include "io/json_file.h"
#include "server/openai.h"
#include "server/request_common.h"
#include "server/request_fields.h"
#include "server/tool_grammar.h"

namespace autolm::server {

namespace {

// Chat message content: a string, or a list of {"type": "text", "text": ...} parts joined with "\n".
ojson normalize_content(const ojson& content, size_t index, const std::string& role) {
  const std::string where = "messages[" + std::to_string(index) + "].content";
  if (content.is_string()) return content;
  if (content.is_null()) {
    if (role == "assistant") return content;  // an assistant turn that only calls tools
    bad_value(where, "content is required for role '" + role + "'.");
  }
  if (!content.is_array()) bad_type(where, content, "a string or an array of content parts");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    const std::string pw = where + "[" + std::to_string(i) + "]";
    if (!part.is_object()) bad_type(pw, part, "an object");
    const ojson* type = field(part, "type");
    if (!type || !type->is_string()) bad_value(pw + ".type", "missing or not a string.");
    if (*type != "text") unsupported(pw + ".type", "'" + type->get<std::string>() + "' content is not supported (text only).");
    const ojson* t = field(part, "text");
    if (!t || !t->is_string()) bad_value(pw + ".text", "missing or not a string.");
    if (!text.empty()) text += "\n";
    text += t->get<std::string>();
  }
  return text;
}

ojson normalize_messages(const Engine& engine, const ojson& req) {
  const ojson* msgs = field(req, "messages");
  if (!msgs) throw ApiError(400, "Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  if (!msgs->is_array()) bad_type("messages", *msgs, "an array of messages");
  if (msgs->empty()) bad_value("messages", "must contain at least one message.");
  if (int64_t(msgs->size()) > engine.limits.max_messages)
    over_limit("messages", "the number of messages", int64_t(msgs->size()), engine.limits.max_messages,
               "--max-messages");
  ojson out = ojson::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const auto& m = (*msgs)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_type(where, m, "an object");
    const ojson* role = field(m, "role");
    if (!role) throw ApiError(400, "Missing required parameter: '" + where + ".role'.", where + ".role", "missing_required_parameter");
    if (!role->is_string()) bad_type(where + ".role", *role, "a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer")
      bad_value(where + ".role", "'" + r + "' is not one of 'system', 'developer', 'user', 'assistant', 'tool'.");
    ojson nm = m;
    // OpenAI's "developer" role is its newer name for "system": templates that do not know it get "system".
    if (r == "developer" && !engine.developer_role) nm["role"] = "system";
    if (!m.contains("content") && r != "assistant")
      throw ApiError(400, "Missing required parameter: '" + where + ".content'.", where + ".content",
                     "missing_required_parameter");
    nm["content"] = normalize_content(m.contains("content") ? m["content"] : ojson(nullptr), i, r);
    // Templates read tool-call arguments as a mapping (transformers' convention); OpenAI sends a JSON string.
    // Parsed within what is left of the request's depth limit (it sits 5 levels deep), so
    // the message stays as shallow as any request the limit admits.
    if (nm.contains("tool_calls") && nm["tool_calls"].is_array())
      for (size_t j = 0; j < nm["tool_calls"].size(); ++j) {
        ojson& call = nm["tool_calls"][j];
        if (!(call.is_object() && call.contains("function") && call["function"].is_object() &&
              call["function"].contains("arguments") && call["function"]["arguments"].is_string()))
          continue;
        const std::string at = where + ".tool_calls[" + std::to_string(j) + "].function.arguments";
        const std::string& text = call["function"]["arguments"].get_ref<const std::string&>();
        if (!ojson::accept(text)) continue;  // not JSON: left as the string it is (accept() does not build or recurse)
        const int depth_left = engine.limits.json_max_depth - 5;
        if (depth_left < 1) continue;
        ojson parsed = parse_request_json(text, depth_left, at);
        if (parsed.is_object()) call["function"]["arguments"] = std::move(parsed);
      }
    out.push_back(std::move(nm));
  }
  return out;
}

// The tools tool_choice "required" (all) or a named function (that one) forces, with their
// parameter schemas (tools[i].function.parameters; absent: any object).
std::vector<ForcedTool> forced_tools(const ojson& tools, const std::string* only) {
  std::vector<ForcedTool> out;
  for (size_t i = 0; i < tools.size(); ++i) {
    const std::string at = "tools[" + std::to_string(i) + "]";
    const ojson& t = tools[i];
    const ojson* fn = field(t, "function");
    if (!fn || !fn->is_object()) bad_value(at, "expected {\"type\": \"function\", \"function\": {\"name\": …}}.");
    const ojson* name = field(*fn, "name");
    if (!name || !name->is_string() || name->get<std::string>().empty())
      bad_value(at + ".function.name", "a tool needs a non-empty string name.");
    if (only && name->get<std::string>() != *only) continue;
    ForcedTool f{name->get<std::string>(), std::nullopt, i};
    if (const ojson* p = field(*fn, "parameters")) {
      if (!p->is_object() && !p->is_boolean()) bad_type(at + ".function.parameters", *p, "a JSON schema object");
      f.parameters = *p;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// `tools` + `tool_choice` → the format tool calls are parsed in (kNone: not parsed), and for
// "required" / a named function the constraint that forces the calls (tool_grammar.h).
ToolFormat tool_choice(const Engine& engine, const ojson& req, bool parallel,
                       std::shared_ptr<const LogitsConstraint>& forced) {
  const ojson* tools = field(req, "tools");
  const ojson* choice = field(req, "tool_choice");
  const bool has_tools = tools && tools->is_array() && !tools->empty();
  std::string mode = has_tools ? "auto" : "none";
  std::string named;
  if (choice) {
    if (choice->is_string()) {
      mode = choice->get<std::string>();
      if (mode != "auto" && mode != "none" && mode != "required")
        bad_value("tool_choice", "'" + mode.substr(0, 64) + "' is not one of 'none', 'auto', 'required' or a named function.");
    } else if (choice->is_object()) {
      const ojson* fn = field(*choice, "function");
      const ojson* name = fn && fn->is_object() ? field(*fn, "name") : nullptr;
      if (!name || !name->is_string() || (field(*choice, "type") && (*choice)["type"] != "function"))
        bad_value("tool_choice", "expected {\"type\": \"function\", \"function\": {\"name\": …}}.");
      bool known = false;
      if (has_tools)
        for (const auto& t : *tools)
          if (t.is_object() && t.contains("function") && t["function"].is_object() &&
              t["function"].value("name", ojson()) == *name)
            known = true;
      if (!known) bad_value("tool_choice", "the function '" + name->get<std::string>().substr(0, 64) + "' is not in 'tools'.");
      mode = "named";
      named = name->get<std::string>();
    } else {
      bad_type("tool_choice", *choice, "a string or an object");
    }
  }
  if (mode == "none") return ToolFormat::kNone;
  if (!has_tools) bad_value("tool_choice", "'" + mode + "' needs a non-empty 'tools' list.");
  if (engine.tool_format == ToolFormat::kNone)
    unsupported("tools", "this model's chat template does not write tool calls in a format autolm can parse (Hermes / "
                         "Qwen <tool_call>, Llama 3.1 JSON, Mistral [TOOL_CALLS]), so calls would come back as plain "
                         "text; pass \"tool_choice\": \"none\" to only show the tools to the model.");
  if (mode == "required" || mode == "named") {
    const std::vector<ForcedTool> chosen = forced_tools(*tools, mode == "named" ? &named : nullptr);
    try {
      forced = tool_call_constraint(engine.tool_format, engine.mistral_args, chosen, parallel, engine.token_vocabulary);
    } catch (const Error& e) {
      // Name the tool whose schema failed: compile each alone (cheap; only on this error path).
      std::string where = "tools";
      for (size_t i = 0; i < chosen.size() && where == "tools"; ++i) {
        try {
          tool_call_constraint(engine.tool_format, engine.mistral_args, {chosen[i]}, false, engine.token_vocabulary);
        } catch (const Error&) {
          where = "tools[" + std::to_string(chosen[i].index) + "].function.parameters";
        }
      }
      if (e.kind() == ErrorKind::kUnsupported)
        unsupported(where, std::string(e.what()) + " (tool_choice '" + mode + "' enforces the parameter schemas by "
                                                   "constrained decoding; use \"auto\" for schemas it cannot enforce).");
      bad_value(where, e.what());
    }
  }
  return engine.tool_format;
}

// response_format (docs/SERVER.md): text, json_object, or json_schema enforced by constrained
// decoding; a schema feature autolm cannot enforce is a 400 naming it.
std::shared_ptr<const LogitsConstraint> response_format_constraint(const Engine& engine, const ojson& rf) {
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
    bad_type("response_format", rf, "an object with a string \"type\"");
  const std::string type = rf["type"].get<std::string>();
  if (type == "text") return nullptr;
  if (type == "json_object") return json_object_constraint(engine.token_vocabulary);
  if (type != "json_schema") bad_value("response_format", "type must be \"text\", \"json_object\" or \"json_schema\".");
  const ojson* js = rf.contains("json_schema") ? &rf["json_schema"] : nullptr;
  if (!js || !js->is_object()) bad_value("response_format", "type \"json_schema\" needs a \"json_schema\" object.");
  if (!js->contains("schema")) return json_object_constraint(engine.token_vocabulary);
  try {
    return json_schema_constraint((*js)["schema"], engine.token_vocabulary);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUnsupported) unsupported("response_format.json_schema.schema", e.what());
    bad_value("response_format.json_schema.schema", e.what());
  }
}

}  // namespace

std::vector<int32_t> chat_prompt_ids(const Engine& engine, const ojson& req, bool add_generation_prompt) {
  const ojson messages = normalize_messages(engine, req);
  ChatTemplateOptions options;
  options.add_generation_prompt = add_generation_prompt;
  if (const ojson* tools = field(req, "tools")) {
    if (!tools->is_array()) bad_type("tools", *tools, "an array of tools");
    for (const auto& t : *tools)
      if (!t.is_object()) bad_type("tools", *tools, "an array of tool objects");
    if (!tools->empty()) options.tools = *tools;
  }
  if (const ojson* kw = field(req, "chat_template_kwargs")) {
    if (!kw->is_object()) bad_type("chat_template_kwargs", *kw, "an object");
    options.extra = *kw;
  }
  const Tokenizer& tok = *engine.tokenizer;
  const ChatTemplate* tmpl = engine.chat_template ? &*engine.chat_template : nullptr;
  if (!options.tools.is_null() && engine.tool_template) tmpl = &*engine.tool_template;
  if (tmpl) {
    std::string text;
    try {
      text = tmpl->render(messages, options, engine.special_tokens);
    } catch (const Error& e) {
      throw ApiError(400, std::string("The chat template refused the conversation: ") + e.what(), "messages",
                     "invalid_value");
    }
    return tok.encode(text, false);  // the template writes the special tokens itself
  }
  if (engine.seq2seq) {
    // Encoder-decoder instruction mode (as `autolm chat`): the last message is the encoder input.
    const ojson& last = messages.back()["content"];
    if (!last.is_string()) bad_value("messages", "the last message needs text content (no chat template: it is the encoder input).");
    return tok.encode(last.get<std::string>(), true);
  }
  throw ApiError(400, "Model '" + engine.name + "' has no chat template (chat_template.jinja, tokenizer_config.json "
                      "\"chat_template\" or chat_template.json), so /v1/chat/completions cannot format messages for "
                      "it; use /v1/completions with a prompt.",
                 "messages", "no_chat_template");
}

Job parse_chat_request(const Engine& engine, const std::string& body) {
  static const Common common{{"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
                              "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
                              "logprobs", "top_logprobs", "user", "seed", "tools", "tool_choice", "parallel_tool_calls",
                              "response_format", "metadata", "store", "service_tier", "chat_template_kwargs",
                              "min_tokens", "ignore_eos"},
                             "messages"};
  const ojson req = parse_body(engine, body);
  Job job;
  job.chat = true;
  job.id = "chatcmpl-" + random_hex(24);
  job.parallel_tool_calls = get_bool(req, "parallel_tool_calls").value_or(true);
  job.tool_format = tool_choice(engine, req, job.parallel_tool_calls, job.constraint);
  if (get_bool(req, "logprobs").value_or(false)) job.logprobs = 0;
  if (auto top = get_int(req, "top_logprobs")) {
    if (*top < 0 || *top > kMaxTopLogprobs)
      bad_value("top_logprobs", std::to_string(*top) + " is not between 0 and " + std::to_string(kMaxTopLogprobs) + ".");
    if (job.logprobs < 0) bad_value("top_logprobs", "needs \"logprobs\": true.");
    job.logprobs = static_cast<int>(*top);
  }
  if (const ojson* rf = field(req, "response_format"))
    if (auto c = response_format_constraint(engine, *rf)) {
      if (job.constraint)
        unsupported("response_format", "cannot be combined with tool_choice 'required' or a named function: both "
                                       "constrain the whole reply.");
      job.constraint = std::move(c);
    }
  get_bool(req, "store");
  if (const ojson* m = field(req, "metadata"); m && !m->is_object()) bad_type("metadata", *m, "an object");
  if (field(req, "max_tokens") && field(req, "max_completion_tokens"))
    throw ApiError(400, "Give either 'max_tokens' or 'max_completion_tokens', not both.", "max_tokens", "invalid_value");

  job.prompts.push_back(chat_prompt_ids(engine, req, true));
  const char* max_key = field(req, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  apply_common(engine, req, common, job, engine.base.max_new_tokens.value_or(kDefaultChatTokens), max_key);
  // Stop at the end-of-turn token too (the tokenizer's eos_token, e.g. <|im_end|>), as `autolm chat`.
  auto& eos = job.config.eos_token_id;
  if (auto e = engine.tokenizer->eos_token_id(); e && std::find(eos.begin(), eos.end(), *e) == eos.end())
    eos.push_back(*e);
  apply_ignore_eos(req, job);
  return job;
}

}  // namespace autolm::server
