#include "common.h"

#include "io/hub_cache.h"

#include <charconv>

namespace autolm::cli {

CLI::Validator model_dir_or_id() {
  return CLI::Validator(
      [](std::string& v) {
        v = resolve_pretrained(v);  // throws autolm::Error (exit 2) naming the folder or the repo
        return std::string();
      },
      "DIR|ORG/NAME[@REV]");
}


std::vector<int32_t> parse_ids(const std::string& text, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    int32_t v = 0;
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size())
      throw Error(ErrorKind::kInvalidInput, flag + ": \"" + item + "\" is not an integer token id (expected e.g. 1,2,3)");
    ids.push_back(v);
    pos = comma + 1;
  }
  if (ids.empty()) throw Error(ErrorKind::kInvalidInput, flag + ": no token ids given");
  return ids;
}

std::shared_ptr<const Model> load_with_class(const std::string& dir, const std::string& cls, const std::string& dtype) {
  const LoadOptions options{.dtype = dtype};
  if (cls.empty()) return load_model(dir, options);
  if (cls == "AutoModelForCausalLM") return AutoModelForCausalLM::from_pretrained(dir, options);
  if (cls == "AutoModelForSeq2SeqLM") return AutoModelForSeq2SeqLM::from_pretrained(dir, options);
  throw Error(ErrorKind::kInvalidInput, "--class: unknown class \"" + cls + "\" (AutoModelForCausalLM or AutoModelForSeq2SeqLM)");
}

void add_load_options(CLI::App* cmd, std::string& cls, std::string& dtype) {
  cmd->add_option("--class", cls, "force AutoModelForCausalLM or AutoModelForSeq2SeqLM (default: from config.json)");
  cmd->add_option("--dtype", dtype,
                  "weights in memory: auto (bf16/f16 used in place), float32 (upcast), int8 (quantized at load)");
}

}  // namespace autolm::cli
