// Chat templates as transformers 5 applies them: find the folder's template (chat_template.jinja,
// additional_chat_templates/, tokenizer_config.json, chat_template.json) and render a conversation.
#pragma once

#include <ctime>
#include "autolm/export.h"
#include "autolm/json.h"
#include <optional>
#include <string>

#include "autolm/jinja.h"

namespace autolm {

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  // transformers' continue_final_message: "" = off, "content" = True, or the field to continue (e.g.
  // "reasoning_content"). The render is cut right after the final message's text, so the model goes on
  // writing it; incompatible with add_generation_prompt.
  std::string continue_final_message;
  OrderedJson tools;      // null = not passed (the template sees tools = None)
  OrderedJson documents;  // null = not passed
  OrderedJson extra;      // object of extra template variables (e.g. enable_thinking); they
                                     // override special tokens of the same name, as in transformers
  std::string template_name;         // for named templates; empty = "default", or "tool_use" when tools are given
  std::optional<std::time_t> now;    // what strftime_now() sees; unset = current time
};

// Finds the folder's template source as transformers does: chat_template.jinja and
// additional_chat_templates/*.jinja take priority over tokenizer_config.json's "chat_template" (a string,
// or a list of {name, template}); chat_template.json ({"chat_template": ...}) is the last resort.
// With several templates: `name` if given, else "tool_use" when has_tools and present, else "default".
// nullopt if the folder has none; Error(kNotFound) if `name` names no template; kInvalidInput if malformed.
AUTOLM_API std::optional<std::string> find_chat_template(const std::string& dir, const std::string& name = "",
                                              bool has_tools = false);

// The template variables transformers derives from tokenizer_config.json (its special_tokens_map):
// bos/eos/unk/sep/pad/cls/mask_token, every other "*_token" string, and extra_special_tokens given as an
// object. Values that are AddedToken objects contribute their "content"; null ones are left out.
AUTOLM_API OrderedJson special_tokens_from_config(const OrderedJson& tokenizer_config);
// Reads <dir>/tokenizer_config.json (and the legacy special_tokens_map.json) into special tokens;
// an empty object when there is no tokenizer_config.json.
AUTOLM_API OrderedJson load_special_tokens(const std::string& dir);

// A parsed chat template: parse once, render each turn cheaply.
class AUTOLM_API ChatTemplate {
 public:
  // Parses `source`; syntax errors are Error(kInvalidInput) naming `name`, line and column.
  explicit ChatTemplate(const std::string& source, const std::string& name = "chat_template");
  // Renders `messages` (a non-empty array of message objects) the way apply_chat_template(...,
  // tokenize=False) does, with its preprocessing: keys whose value is null are dropped from each message,
  // and a reasoning field (reasoning_content, thinking or reasoning) is mirrored to "thinking" and
  // "reasoning_content"; then continue_final_message as transformers does it. special_tokens is an object like {"bos_token": "<s>", ...} (strings, or
  // {"content": ...} objects). Errors, including the template's raise_exception(), are Error(kInvalidInput).
  std::string render(const OrderedJson& messages, const ChatTemplateOptions& options,
                     const OrderedJson& special_tokens) const;
  // The parsed template and its source text.
  const JinjaTemplate& jinja() const { return template_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  JinjaTemplate template_;
};

// One-shot form of ChatTemplate(source).render(...).
AUTOLM_API std::string render_chat_template(const std::string& source, const OrderedJson& messages,
                                 const ChatTemplateOptions& options, const OrderedJson& special_tokens);

}  // namespace autolm
