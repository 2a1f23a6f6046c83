// Test helpers: paths into ../shared/fixtures and readers for the reference files.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"

namespace autolm::test {

inline std::string fixtures() { return AUTOLM_FIXTURES; }
// Model folder for a reference name: tiny models under models/, trained demos under demo/.
inline std::string model_dir(const std::string& name) {
  return fixtures() + (name == "chat-tiny" || name == "t5-numbers" ? "/demo/" : "/models/") + name;
}
inline std::string ref_path(const std::string& name, const std::string& ext) {
  return fixtures() + (name == "chat-tiny" || name == "t5-numbers" ? "/refs/demo/" : "/refs/models/") + name + ext;
}
inline nlohmann::json load_ref(const std::string& name) { return load_json_file(ref_path(name, ".json")); }

inline const std::vector<std::string>& causal_models() {
  static const std::vector<std::string> v = {"gpt2-tiny",  "llama-tiny", "llama3-rope-tiny", "mistral-tiny", "qwen2-tiny",
                                             "qwen3-tiny", "phi3-tiny",  "gemma3-tiny",      "chat-tiny"};
  return v;
}
inline const std::vector<std::string>& seq2seq_models() {
  static const std::vector<std::string> v = {"t5-tiny", "t5-v1_1-tiny", "bart-tiny", "mbart-tiny", "marian-tiny", "t5-numbers"};
  return v;
}

template <typename T>
std::vector<T> ids_of(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}

}  // namespace autolm::test
