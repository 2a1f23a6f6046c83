// Tokenizer::apply_chat_template: template lookup as transformers does it, then the Jinja
// renderer of src/chat with the special-token variables of tokenizer_config.json.
#include "autolm/error.h"
#include "autolm/tokenizer.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer_impl.h"

namespace autolm {

std::string Tokenizer::apply_chat_template(const nlohmann::ordered_json& messages,
                                           const ChatTemplateOptions& options) const {
  const bool has_tools = !options.tools.is_null();
  std::optional<std::string> source;
  if (!impl_->dir_.empty()) source = find_chat_template(impl_->dir_, options.template_name, has_tools);
  const auto config = parse_json<nlohmann::ordered_json>(impl_->config_.dump(), "tokenizer_config.json");
  if (!source && config.contains("chat_template") && config["chat_template"].is_string())
    source = config["chat_template"].get<std::string>();
  if (!source)
    throw Error(ErrorKind::kInvalidInput, (impl_->dir_.empty() ? std::string("this tokenizer") : impl_->dir_) +
                                              " has no chat template (chat_template.jinja, tokenizer_config.json "
                                              "\"chat_template\" or chat_template.json)");
  return render_chat_template(*source, messages, options, special_tokens_from_config(config));
}

std::vector<int32_t> Tokenizer::apply_chat_template_ids(const nlohmann::ordered_json& messages,
                                                        const ChatTemplateOptions& options) const {
  return encode(apply_chat_template(messages, options), false);
}

}  // namespace autolm
