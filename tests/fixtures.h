// Test helpers for the model parity suites: model folders and reference files by name (see
// fixture_paths.h for the two fixture roots).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fixture_paths.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace autolm::test {

inline bool is_shared(const std::string& name) { return name.rfind("shared:", 0) == 0; }
inline std::string bare(const std::string& name) { return is_shared(name) ? name.substr(7) : name; }
inline bool is_demo(const std::string& name) { return bare(name) == "chat-tiny" || bare(name) == "t5-numbers"; }

// Model folder for a reference name: tiny models under models/ of the fixtures, the trained
// demos in the repository's models/ (the same files as ../shared/fixtures/demo).
inline std::string model_dir(const std::string& name) {
  if (is_demo(name)) return std::string(AUTOLM_SOURCE_DIR) + "/models/" + bare(name);
  return (is_shared(name) ? shared_fixtures() : fixtures()) + "/models/" + bare(name);
}
inline std::string ref_path(const std::string& name, const std::string& ext) {
  return (is_shared(name) ? shared_fixtures() : fixtures()) + (is_demo(name) ? "/refs/demo/" : "/refs/models/") +
         bare(name) + ext;
}
inline nlohmann::json load_ref(const std::string& name) { return load_json_file(ref_path(name, ".json")); }

inline const std::vector<std::string>& causal_models() {
  static const std::vector<std::string> v = {
      "gpt2-tiny",   "llama-tiny",   "llama3-rope-tiny", "mistral-tiny",  "qwen2-tiny",         "qwen3-tiny",
      "phi3-tiny",   "gemma3-tiny",  "chat-tiny",
      // tests/data/make_arch_fixtures.py (bfloat16 checkpoints; not in ../shared/fixtures)
      "gemma2-tiny", "olmo-tiny",    "olmo2-tiny",       "granite-tiny",  "stablelm-tiny",      "stablelm2-12b-tiny",
      "smollm3-tiny", "cohere-tiny",
      // tests/data/make_arch_fixtures_moe.py (the same reference format; greedy and beam4 settings)
      "mixtral-tiny", "qwen2_moe-tiny", "qwen3_moe-tiny", "phi-tiny", "gpt_neox-tiny", "falcon-tiny",
      "falcon-new-tiny", "starcoder2-tiny", "gpt_bigcode-tiny", "opt-tiny", "opt-pre-tiny"};
  return v;
}
inline const std::vector<std::string>& seq2seq_models() {
  static const std::vector<std::string> v = {
      "t5-tiny", "t5-v1_1-tiny", "bart-tiny", "mbart-tiny", "marian-tiny", "t5-numbers",
      // tests/data/make_seq2seq_arch_fixtures.py (BART's layers; bfloat16 checkpoints, not in ../shared/fixtures)
      "blenderbot-tiny", "blenderbot_small-tiny", "plbart-tiny", "fsmt-tiny", "led-tiny",
      // tests/data/make_t5_arch_fixtures.py (the T5 stack and T5Gemma)
      "switch-tiny", "t5gemma-tiny", "longt5-tglobal-tiny", "longt5-local-tiny"};
  return v;
}
// `names` again, each prefixed "shared:" (the cross-check against ../shared/fixtures), for the
// names ../shared/fixtures has references of (all of them when it is absent: those skip).
inline std::vector<std::string> with_shared(std::vector<std::string> names) {
  const size_t n = names.size();
  for (size_t i = 0; i < n; ++i)
    if (!has_shared_fixtures() || std::filesystem::exists(ref_path("shared:" + names[i], ".json")))
      names.push_back("shared:" + names[i]);
  return names;
}

template <typename T>
std::vector<T> ids_of(const nlohmann::json& j) {
  return j.get<std::vector<T>>();
}

// gtest parameter names from fixture names (INSTANTIATE_TEST_SUITE_P's last argument): every
// character but letters and digits becomes '_' ("shared:llama-tiny" → "shared_llama_tiny").
struct FixtureName {
  template <class Info>
  std::string operator()(const Info& info) const {
    std::string n = info.param;
    for (char& c : n)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
  }
};

}  // namespace autolm::test

// Skips the current test when `name` is a "shared:" reference and ../shared/fixtures is absent.
#define AUTOLM_SKIP_IF_NO_SHARED(name)                                                                \
  do {                                                                                                \
    if (::autolm::test::is_shared(name) && !::autolm::test::has_shared_fixtures())                    \
      GTEST_SKIP() << "cross-check against ../shared/fixtures, absent here (" << ::autolm::test::shared_fixtures() << ")"; \
  } while (0)
