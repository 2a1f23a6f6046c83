// Fuzz target: the `autolm chat --messages FILE` path. The input is the messages file: a JSON
// list of {role, content} (or, to reach tools/documents too, an object {"messages": [...],
// "tools": ..., "documents": ..., "add_generation_prompt": ...}). It is checked as the CLI
// checks it (tools/cli/cmd_chat.cc load_messages, mirrored here because that function is
// private to the CLI), rendered with real chat templates (the bundled chat-tiny demo and the
// fixtures' Qwen3, Llama 3, Gemma 3 templates) and tokenized as apply_chat_template does.
#include "autolm/chat.h"
#include "autolm/tokenizer.h"
#include "fuzz_common.h"
#include "io/json_file.h"

using namespace autolm;
using ojson = nlohmann::ordered_json;

namespace {

struct Target {
  ChatTemplate tmpl;
  ojson special;
};

const std::vector<Target>& templates() {
  static const std::vector<Target> v = [] {
    std::vector<Target> out;
    std::vector<std::string> dirs = {fuzz::source_dir() + "/models/chat-tiny"};
    for (const char* name : {"qwen3", "llama3", "gemma3"}) dirs.push_back(fuzz::fixtures() + "/tokenizers/" + name);
    for (const auto& d : dirs)
      if (fs::exists(d))
        if (auto source = find_chat_template(d)) out.push_back({ChatTemplate(*source, d), load_special_tokens(d)});
    if (out.empty()) std::abort();
    return out;
  }();
  return v;
}

const Tokenizer& chat_tokenizer() {
  static const auto tok = AutoTokenizer::from_pretrained(fuzz::source_dir() + "/models/chat-tiny");
  return *tok;
}

// What load_messages accepts: a list of objects that each have "role" and "content".
void check_messages(const ojson& j) {
  if (!j.is_array()) throw Error(ErrorKind::kInvalidInput, "messages.json: expected a JSON list of messages");
  for (size_t i = 0; i < j.size(); ++i)
    if (!j[i].is_object() || !j[i].contains("role") || !j[i].contains("content"))
      throw Error(ErrorKind::kInvalidInput, "messages.json: message " + std::to_string(i) + " lacks \"role\" or \"content\"");
}

}  // namespace

// Loads the fixed inputs once, before libFuzzer starts timing units (-timeout).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  templates();
  chat_tokenizer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& targets = templates();
  fuzz::guarded([&] {
    ojson j = parse_json<ojson>(fuzz::as_text(data, size), "messages.json");
    ChatTemplateOptions options;
    options.add_generation_prompt = true;
    options.now = 1721984703;
    ojson messages = j;
    if (j.is_object()) {
      messages = j.contains("messages") ? j["messages"] : ojson();
      if (j.contains("tools")) options.tools = j["tools"];
      if (j.contains("documents")) options.documents = j["documents"];
      if (j.contains("add_generation_prompt") && j["add_generation_prompt"].is_boolean())
        options.add_generation_prompt = j["add_generation_prompt"].get<bool>();
    }
    check_messages(messages);
    for (const auto& t : targets) fuzz::guarded([&] { t.tmpl.render(messages, options, t.special); });
    fuzz::guarded([&] { chat_tokenizer().apply_chat_template_ids(messages, options); });
  });
  return 0;
}
