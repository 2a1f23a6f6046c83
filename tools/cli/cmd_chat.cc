// `autolm chat`: render the folder's chat template exactly as transformers does, then either
// print it (--render), answer one conversation (--messages), or run an interactive REPL.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>

#include "autolm/chat.h"
#include "autolm/generation.h"
#include "autolm/tokenizer.h"
#include "common.h"
#include "structured_output.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/mmap.h"

namespace autolm::cli {

namespace {

std::atomic<bool> g_chat_interrupted{false};
extern "C" void on_chat_sigint(int) { g_chat_interrupted = true; }

struct ChatOpts {
  std::string dir, system, messages_file, template_file, cls, dtype = "auto";
  std::string tools_file, documents_file, continue_final_message;
  std::vector<std::string> template_vars;
  bool render = false, no_stream = false, no_generation_prompt = false, no_cache = false;
  std::optional<int> max_new_tokens;
  ChatTemplateOptions template_options;  // built from the flags above
  StructuredOutputOpts structured;
};

using ojson = nlohmann::ordered_json;  // messages keep their key order, as Python dicts do

// One chat session: template (may be absent for seq2seq instruction mode), model, tokenizer.
class ChatSession {
 public:
  ChatSession(const ChatOpts& o, std::shared_ptr<const Tokenizer> tok, const std::optional<std::string>& source)
      : opts_(o), tok_(std::move(tok)), special_(special_tokens_from_config(parse_json<ojson>(tok_->tokenizer_config().dump(), "tokenizer_config.json"))) {
    if (source) template_.emplace(*source, o.template_file.empty() ? o.dir + " chat template" : o.template_file);
  }

  // Parsed once, rendered every turn.
  std::string render(const ojson& messages) const { return template_->render(messages, opts_.template_options, special_); }

  // Generates the assistant's reply to `messages`, streaming it to stdout when `stream`.
  std::string reply(const ojson& messages, bool stream, bool print_unstreamed = false) {
    if (!model_) {
      model_ = load_with_class(opts_.dir, opts_.cls, opts_.dtype, opts_.no_cache);
      config_ = GenerationConfig::for_model(*model_);
      if (opts_.max_new_tokens) config_.max_new_tokens = *opts_.max_new_tokens;
      else if (!config_.max_new_tokens) config_.max_new_tokens = 256;
      // Stop at the model's end-of-turn token too (the tokenizer's eos_token, e.g. <|im_end|>).
      if (auto eos = tok_->eos_token_id())
        if (std::find(config_.eos_token_id.begin(), config_.eos_token_id.end(), *eos) == config_.eos_token_id.end())
          config_.eos_token_id.push_back(*eos);
      config_.validate();
      constraint_ = structured_output_constraint(opts_.structured, tok_.get());
    }
    std::vector<int32_t> ids;
    if (template_) {
      ids = tok_->encode(render(messages), false);  // apply_chat_template tokenizes without specials
    } else {
      // Encoder-decoder instruction mode: the last user message is the encoder input.
      if (messages.empty() || !messages.back().contains("content") || !messages.back()["content"].is_string())
        throw Error(ErrorKind::kInvalidInput, "chat: without a chat template the last message must have a string "
                                              "\"content\" (it is the encoder input)");
      ids = tok_->encode(messages.back()["content"].get<std::string>(), true);
    }
    StreamDecoder streamer(*tok_, true);
    GenerateHooks hooks;
    hooks.constraint = constraint_;  // each reply is one constrained JSON value
    stream = stream && config_.num_beams == 1;  // beam search takes no step callback
    if (config_.num_beams == 1)
      hooks.on_step = [&](const StreamStep& step) {
        if (stream && step.was_active[0]) std::cout << streamer.put(step.tokens[0]) << std::flush;
        return !g_chat_interrupted.load();
      };
    GenerateOutput out = generate(*model_, {ids}, config_, hooks);
    const std::string reply = tok_->decode(out.new_tokens[0], true);
    if (stream) std::cout << streamer.finish() << std::flush;
    else if (print_unstreamed) std::cout << reply << std::flush;
    return reply;
  }

 private:
  const ChatOpts& opts_;
  std::shared_ptr<const Tokenizer> tok_;
  ojson special_;
  std::optional<ChatTemplate> template_;
  std::shared_ptr<const Model> model_;
  GenerationConfig config_;
  std::shared_ptr<const LogitsConstraint> constraint_;
};

// Messages as apply_chat_template takes them: a JSON list of objects with a string "role";
// "content" may be absent or null (an assistant turn that only calls tools), else a string or a
// list of objects; any other key (tool_calls, reasoning_content…) is kept. Read with the size and
// nesting limits of every config file; errors name the file, index and key.
ojson load_messages(const std::string& path) {
  const ojson j = parse_json<ojson>(read_user_file(path), path);
  if (!j.is_array()) throw Error(ErrorKind::kInvalidInput, path + ": expected a JSON list of {\"role\", \"content\"} messages");
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = path + ": message " + std::to_string(i);
    const ojson& m = j[i];
    if (!m.is_object() || !m.contains("role"))
      throw Error(ErrorKind::kInvalidInput, where + " is not an object with a \"role\"");
    if (!m["role"].is_string())
      throw Error(ErrorKind::kInvalidInput, where + ": \"role\" must be a string, got " + m["role"].dump());
    if (!m.contains("content")) continue;
    const ojson& content = m["content"];
    if (!content.is_string() && !content.is_array() && !content.is_null())
      throw Error(ErrorKind::kInvalidInput, where + ": \"content\" must be a string, a list or null, got " + content.dump());
    if (content.is_array())
      for (size_t k = 0; k < content.size(); ++k)
        if (!content[k].is_object())
          throw Error(ErrorKind::kInvalidInput, where + ": \"content\"[" + std::to_string(k) +
                                                    "] must be an object such as {\"type\": \"text\", \"text\": ...}");
  }
  return j;
}

// --tools / --documents: a JSON list of objects.
ojson load_object_list(const std::string& path, const char* what) {
  ojson j = parse_json<ojson>(read_user_file(path), path);
  if (!j.is_array()) throw Error(ErrorKind::kInvalidInput, path + ": expected a JSON list of " + what);
  for (const auto& e : j)
    if (!e.is_object()) throw Error(ErrorKind::kInvalidInput, path + ": expected a JSON list of " + what);
  return j;
}

// The apply_chat_template arguments the flags give; --template-var NAME=VALUE takes VALUE as JSON when it
// parses (false, 3, "x", {"a": 1}), else as the string it is.
ChatTemplateOptions template_options(const ChatOpts& o) {
  ChatTemplateOptions t;
  t.add_generation_prompt = !o.no_generation_prompt && o.continue_final_message.empty();
  t.continue_final_message = o.continue_final_message;
  if (!o.tools_file.empty()) t.tools = load_object_list(o.tools_file, "tool schemas (objects)");
  if (!o.documents_file.empty()) t.documents = load_object_list(o.documents_file, "documents (objects)");
  t.extra = ojson::object();
  for (const auto& kv : o.template_vars) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorKind::kInvalidInput, "--template-var expects NAME=VALUE, got '" + kv + "'");
    std::string name = kv.substr(0, eq), value = kv.substr(eq + 1);
    ojson parsed = value;  // not JSON: the string itself
    try {
      parsed = parse_json<ojson>(value, "--template-var " + name);
    } catch (const Error& e) {
      if (std::string(e.what()).find("nested deeper") != std::string::npos) throw;
    }
    t.extra[name] = std::move(parsed);
  }
  return t;
}

}  // namespace

void add_chat_command(CLI::App& app, int& rc) {
  auto o = std::make_shared<ChatOpts>();
  auto* cmd = app.add_subcommand("chat", "chat with an instruction model using its chat template");
  cmd->add_option("dir", o->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id());
  cmd->add_option("--system", o->system, "system message");
  cmd->add_option("--messages", o->messages_file, "JSON list of {role, content}: answer it once and exit");
  cmd->add_option("--template", o->template_file, "use this Jinja chat template file");
  add_load_options(cmd, o->cls, o->dtype, o->no_cache);
  cmd->add_flag("--render", o->render, "print the rendered prompt only (needs only the tokenizer files)");
  cmd->add_option_function<std::string>(
      "--max-new-tokens",
      [o](const std::string& v) { o->max_new_tokens = int(parse_int(v, "--max-new-tokens", 1, INT32_MAX)); },
      "maximum reply length in tokens");
  cmd->add_flag("--no-stream", o->no_stream, "print replies whole instead of streaming");
  cmd->add_option("--tools", o->tools_file, "JSON list of tool (function) schemas for the template's `tools`");
  cmd->add_option("--documents", o->documents_file, "JSON list of documents for the template's `documents`");
  cmd->add_option("--template-var", o->template_vars,
                  "NAME=VALUE: an extra template variable (e.g. enable_thinking=false); VALUE is JSON when it parses, "
                  "else a string; repeatable");
  add_structured_output_options(cmd, o->structured);
  cmd->add_flag("--no-generation-prompt", o->no_generation_prompt, "add_generation_prompt=False");
  cmd->add_flag("--continue-final-message{content}", o->continue_final_message,
                "end the prompt inside the final message so the model continues it (add_generation_prompt=False); "
                "=FIELD continues another field, e.g. =reasoning_content");
  cmd->callback([o, &rc] {
    auto tok = AutoTokenizer::from_pretrained(o->dir);
    o->template_options = template_options(*o);
    std::optional<std::string> tmpl;
    if (!o->template_file.empty()) tmpl = read_text_file(o->template_file, input_limits().tokenizer_max_bytes);
    else tmpl = find_chat_template(o->dir, "", !o->template_options.tools.is_null());
    if (!tmpl) {
      const bool seq2seq = !o->render && AutoConfig::from_pretrained(o->dir).family == ModelFamily::kSeq2Seq;
      if (!seq2seq)
        throw Error(ErrorKind::kInvalidInput, o->dir + " has no chat template (tokenizer_config.json chat_template, "
                                                       "chat_template.jinja or chat_template.json); pass --template FILE");
      std::cerr << "note: " << o->dir << " has no chat template; encoder-decoder instruction mode: "
                << "each message is the encoder input\n";
    }
    ojson history = ojson::array();
    if (!o->system.empty()) history.push_back({{"role", "system"}, {"content", o->system}});
    ChatSession session(*o, tok, tmpl);

    if (!o->messages_file.empty() || o->render) {
      ojson messages = history;
      if (!o->messages_file.empty())
        for (auto& m : load_messages(o->messages_file)) messages.push_back(m);
      if (o->render) {
        if (!tmpl) throw Error(ErrorKind::kInvalidInput, "--render: " + o->dir + " has no chat template");
        std::cout << session.render(messages);
      } else {
        std::cout << session.reply(messages, false) << "\n";
      }
      rc = 0;
      return;
    }

    // Interactive REPL: one user turn per line; /reset clears history, /exit (or EOF) quits.
    const bool tty = ::isatty(STDIN_FILENO);
    auto previous = std::signal(SIGINT, on_chat_sigint);
    std::string line;
    while (true) {
      if (tty) std::cout << "> " << std::flush;
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        history.erase(history.begin() + (o->system.empty() ? 0 : 1), history.end());
        if (tty) std::cout << "(history cleared)\n";
        continue;
      }
      if (line.empty()) continue;
      history.push_back({{"role", "user"}, {"content", line}});
      g_chat_interrupted = false;
      std::string reply = session.reply(tmpl ? history : ojson::array({history.back()}), !o->no_stream, true);
      std::cout << "\n" << std::flush;
      if (tmpl) history.push_back({{"role", "assistant"}, {"content", reply}});
      else history.erase(history.end() - 1);
    }
    std::signal(SIGINT, previous);
    rc = 0;
  });
}

}  // namespace autolm::cli
