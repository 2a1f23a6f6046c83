// Helpers of the architecture-specific seq2seq tests: the worst forward-logit error against a
// reference (logit_error.h, shared with test_parity.cc), and a fixture copy with config.json keys replaced (to show a switch matters).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "autolm/auto.h"
#include "fixtures.h"
#include "logit_error.h"

namespace autolm::test {

// Encoder over each case's input (with encoder_mask(case) as encode()'s mask when given), decoder
// over the reference's decoder_input_ids: the worst max |logit difference| / max(1, max |reference
// logit|) over the cases of reference `ref_name`.
inline float max_logit_error(const Model& model, const std::string& ref_name,
                             const std::function<std::vector<int32_t>(const nlohmann::json&)>& encoder_mask = {}) {
  auto ref = load_ref(ref_name);
  WeightStore store({ref_path(ref_name, ".logits.safetensors")});
  float worst = 0.f;
  for (const auto& c : ref["cases"])
    worst = std::max(worst, case_logit_error(model, store, c, encoder_mask ? encoder_mask(c) : std::vector<int32_t>{})
                                .relative());
  return worst;
}

// A temporary copy of fixture `name` with config.json keys replaced (remove it when done).
inline std::string patched_copy(const std::string& name, const nlohmann::json& changes) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("autolm_arch_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(model_dir(name))) fs::copy(e.path(), dir / e.path().filename());
  auto cfg = load_json_file((dir / "config.json").string());
  cfg.update(changes);
  std::ofstream(dir / "config.json") << cfg.dump();
  return dir.string();
}

}  // namespace autolm::test
