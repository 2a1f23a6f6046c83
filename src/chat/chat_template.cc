// Chat-template lookup (transformers 5's from_pretrained + get_chat_template) and rendering
// (render_jinja_template: messages, tools, documents, add_generation_prompt, special tokens, kwargs).
#include <algorithm>
#include <filesystem>
#include <map>

#include "autolm/chat.h"
#include "autolm/error.h"
#include "chat/value.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/mmap.h"

namespace autolm {
namespace {

using ojson = nlohmann::ordered_json;

ojson read_json(const std::string& path) {
  return parse_json<ojson>(read_text_file(path), path);
}

// A template source as stored: one string, or named templates.
struct Templates {
  std::optional<std::string> single;
  std::map<std::string, std::string> named;
  bool empty() const { return !single && named.empty(); }
};

Templates from_json_value(const ojson& v, const std::string& where) {
  Templates t;
  if (v.is_null()) return t;
  if (v.is_string()) {
    t.single = v.get<std::string>();
    return t;
  }
  if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
          !e["template"].is_string())
        throw Error(ErrorKind::kInvalidInput, where + ": each chat template must be {\"name\": ..., \"template\": ...}");
      t.named[e["name"].get<std::string>()] = e["template"].get<std::string>();
    }
    return t;
  }
  throw Error(ErrorKind::kInvalidInput, where + ": chat_template must be a string or a list of named templates");
}

Templates collect(const std::string& dir) {
  namespace fs = std::filesystem;
  Templates t;
  // Files take priority over tokenizer_config.json; chat_template.jinja is the "default" one.
  std::map<std::string, std::string> files;
  if (file_exists(dir + "/chat_template.jinja")) files["default"] = read_text_file(dir + "/chat_template.jinja", input_limits().tokenizer_max_bytes);
  std::error_code ec;
  fs::path extra_dir = fs::path(dir) / "additional_chat_templates";
  if (fs::is_directory(extra_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(extra_dir, ec)) {
      const fs::path& p = entry.path();
      if (p.extension() == ".jinja" && entry.is_regular_file(ec)) files[p.stem().string()] = read_text_file(p.string(), input_limits().tokenizer_max_bytes);
    }
  }
  if (files.size() == 1 && files.count("default")) {
    t.single = files["default"];
    return t;
  }
  if (!files.empty()) {
    t.named = std::move(files);
    return t;
  }
  std::string config = dir + "/tokenizer_config.json";
  if (file_exists(config)) {
    ojson j = read_json(config);
    if (j.is_object() && j.contains("chat_template")) t = from_json_value(j["chat_template"], config);
    if (!t.empty()) return t;
  }
  std::string legacy = dir + "/chat_template.json";
  if (file_exists(legacy)) {
    ojson j = read_json(legacy);
    if (j.is_object() && j.contains("chat_template")) t = from_json_value(j["chat_template"], legacy);
  }
  return t;
}

std::string names_of(const std::map<std::string, std::string>& named) {
  std::string s = "[";
  for (const auto& [k, v] : named) s += (s.size() > 1 ? ", '" : "'") + k + "'";
  return s + "]";
}

// str(AddedToken) is its content; strings stay as they are; anything else is not a token.
std::optional<std::string> token_text(const ojson& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

std::optional<std::string> find_chat_template(const std::string& dir, const std::string& name, bool has_tools) {
  Templates t = collect(dir);
  if (t.empty()) return std::nullopt;
  if (t.single) {
    if (!name.empty() && name != "default")
      throw Error(ErrorKind::kNotFound, dir + ": no chat template named '" + name + "' (the folder has a single template)");
    return t.single;
  }
  if (!name.empty()) {
    auto it = t.named.find(name);
    if (it == t.named.end())
      throw Error(ErrorKind::kNotFound, dir + ": no chat template named '" + name + "'; available: " + names_of(t.named));
    return it->second;
  }
  if (has_tools && t.named.count("tool_use")) return t.named["tool_use"];
  if (t.named.count("default")) return t.named["default"];
  throw Error(ErrorKind::kInvalidInput,
              dir + ": this model has multiple chat templates with no default specified; pass a template name. "
                    "Available template names are " + names_of(t.named) + ".");
}

ojson special_tokens_from_config(const ojson& config) {
  ojson out = ojson::object();
  if (!config.is_object()) return out;
  static const char* kNamed[] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
  for (const char* key : kNamed)
    if (config.contains(key))
      if (auto text = token_text(config[key])) out[key] = *text;
  for (auto it = config.begin(); it != config.end(); ++it) {
    const std::string& key = it.key();
    if (key.size() < 6 || key.compare(key.size() - 6, 6, "_token") != 0 || out.contains(key)) continue;
    if (std::find(std::begin(kNamed), std::end(kNamed), key) != std::end(kNamed)) continue;
    if (auto text = token_text(it.value())) out[key] = *text;
  }
  if (config.contains("extra_special_tokens") && config["extra_special_tokens"].is_object())
    for (auto it = config["extra_special_tokens"].begin(); it != config["extra_special_tokens"].end(); ++it)
      if (auto text = token_text(it.value())) out[it.key()] = *text;
  return out;
}

ojson load_special_tokens(const std::string& dir) {
  std::string path = dir + "/tokenizer_config.json";
  if (!file_exists(path)) return ojson::object();
  ojson config = read_json(path);
  if (!config.is_object()) throw Error(ErrorKind::kInvalidInput, path + ": expected a JSON object");
  // Legacy folders without added_tokens_decoder: special_tokens_map.json entries win.
  std::string legacy = dir + "/special_tokens_map.json";
  if (!config.contains("added_tokens_decoder") && file_exists(legacy)) {
    ojson map = read_json(legacy);
    if (map.is_object())
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it.key() != "extra_special_tokens" || it.value().is_object()) config[it.key()] = it.value();
  }
  return special_tokens_from_config(config);
}

ChatTemplate::ChatTemplate(const std::string& source, const std::string& name) : template_(source, name) {}

std::string ChatTemplate::render(const ojson& messages, const ChatTemplateOptions& options,
                                 const ojson& special_tokens) const {
  const std::string& where = template_.name();
  if (!messages.is_array()) throw Error(ErrorKind::kInvalidInput, where + ": messages must be a JSON array");
  // Checked before anything is copied: copying JSON recurses, so a message whose content is a
  // list nested 100k deep would overflow the stack in the copy itself.
  for (const ojson* part : {&messages, &options.tools, &options.documents, &options.extra})
    if (jinja::json_nested_deeper_than(*part, jinja::Value::kMaxNesting))
      throw Error(ErrorKind::kInvalidInput, where + ": messages, tools, documents or extra variables: JSON nesting exceeds " +
                                                std::to_string(jinja::Value::kMaxNesting) + " levels");
  if (messages.empty())
    throw Error(ErrorKind::kInvalidInput, "Cannot apply chat template to an empty conversation. Provide at least one message.");
  if (!options.tools.is_null() && !options.tools.is_array())
    throw Error(ErrorKind::kInvalidInput, where + ": tools must be a JSON array of tool schemas");
  if (options.tools.is_array())
    for (const auto& t : options.tools)
      if (!t.is_object())
        throw Error(ErrorKind::kInvalidInput, "Tools should either be a JSON schema, or a callable function with type hints "
                                              "and a docstring suitable for auto-conversion to a schema.");
  if (!options.documents.is_null()) {
    if (!options.documents.is_array()) throw Error(ErrorKind::kInvalidInput, where + ": documents must be a JSON array");
    for (const auto& d : options.documents)
      if (!d.is_object()) throw Error(ErrorKind::kInvalidInput, "Documents should be a list of dicts with 'title' and 'text' keys!");
  }
  if (!options.extra.is_null() && !options.extra.is_object())
    throw Error(ErrorKind::kInvalidInput, where + ": extra template variables must be a JSON object");
  if (!special_tokens.is_null() && !special_tokens.is_object())
    throw Error(ErrorKind::kInvalidInput, where + ": special tokens must be a JSON object");

  ojson vars = ojson::object();
  if (special_tokens.is_object())
    for (auto it = special_tokens.begin(); it != special_tokens.end(); ++it)
      if (auto text = token_text(it.value())) vars[it.key()] = *text;
  if (options.extra.is_object())
    for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
      const std::string& k = it.key();
      if (k == "messages" || k == "tools" || k == "documents" || k == "add_generation_prompt")
        throw Error(ErrorKind::kInvalidInput, "got multiple values for keyword argument '" + k + "'");
      vars[k] = it.value();
    }
  vars["messages"] = messages;
  vars["tools"] = options.tools;
  vars["documents"] = options.documents;
  vars["add_generation_prompt"] = options.add_generation_prompt;
  JinjaRenderOptions ro;
  ro.now = options.now;
  return template_.render(vars, ro);
}

std::string render_chat_template(const std::string& source, const ojson& messages, const ChatTemplateOptions& options,
                                 const ojson& special_tokens) {
  return ChatTemplate(source).render(messages, options, special_tokens);
}

}  // namespace autolm
