// GPT-2 style folders (vocab.json + merges.txt, no tokenizer.json): converted in memory to the
// tokenizer.json pipeline transformers' GPT2Converter builds (byte-level BPE).
#include <sstream>

#include "autolm/error.h"
#include "io/json_file.h"
#include "io/mmap.h"
#include "tokenizer/backend.h"

namespace autolm::tokenizer_detail {

std::shared_ptr<const Backend> make_gpt2_files_backend(const std::string& vocab_path, const std::string& merges_path,
                                                       const nlohmann::json& config) {
  json vocab = load_json_file(vocab_path, input_limits().tokenizer_max_bytes);
  if (!vocab.is_object()) throw Error(ErrorKind::kInvalidInput, vocab_path + ": vocab.json must be an object");
  json merges = json::array();
  std::istringstream in(read_text_file(merges_path, input_limits().tokenizer_max_bytes));
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first && line.rfind("#version", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    if (line.find(' ') == std::string::npos)
      throw Error(ErrorKind::kInvalidInput, merges_path + ": merge line \"" + line + "\" is not \"a b\"");
    merges.push_back(line);
  }
  bool prefix = config.value("add_prefix_space", false);
  json j = {
      {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)},
                 {"continuing_subword_prefix", ""}, {"end_of_word_suffix", ""}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", prefix}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"post_processor", {{"type", "ByteLevel"}, {"trim_offsets", false}, {"add_prefix_space", prefix}}},
      {"added_tokens", json::array()}};
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (!config.contains(key)) continue;
    const json& v = config[key];
    std::string content = v.is_string() ? v.get<std::string>() : v.is_object() ? v.value("content", "") : "";
    if (content.empty() || !j["model"]["vocab"].contains(content)) continue;
    bool dup = false;
    for (const auto& a : j["added_tokens"]) dup |= a["content"] == content;
    if (dup) continue;
    j["added_tokens"].push_back({{"id", j["model"]["vocab"][content]}, {"content", content}, {"special", true},
                                 {"normalized", false}, {"lstrip", false}, {"rstrip", false}, {"single_word", false}});
  }
  return make_json_backend(std::move(j), vocab_path);
}

}  // namespace autolm::tokenizer_detail
