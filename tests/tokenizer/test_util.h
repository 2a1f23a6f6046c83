// Helpers for the tokenizer tests: fixture paths (gunzipping the large tokenizer.json.gz once
// into a temp folder) and reference loading.
#pragma once

#include <nlohmann/json.hpp>
#include <memory>
#include <string>

#include "autolm/tokenizer.h"

namespace autolm::test {

std::string fixtures_dir();
// tokenizers/<name> in the repository's fixtures, else in ../shared/fixtures ("" if neither:
// vendor tokenizers whose licence keeps them out of the repository).
std::string tokenizer_dir(const std::string& name);
bool have_tokenizer(const std::string& name);
// Path of tokenizers/<name>/tokenizer.json, decompressed from .gz when needed.
std::string tokenizer_json_path(const std::string& name);
std::string tokenizer_config_path(const std::string& name);
std::shared_ptr<const Tokenizer> load_fixture_tokenizer(const std::string& name);
nlohmann::json load_ref(const std::string& name);
// Inline tokenizer.json from a JSON literal.
std::shared_ptr<const Tokenizer> tokenizer_from(const nlohmann::json& j);

}  // namespace autolm::test
