// Helpers of the architecture-specific seq2seq tests: the worst forward-logit error against a
// reference, and a fixture copy with config.json keys replaced (to show a switch matters).
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

namespace autolm::test {

// Encoder over each case's input (with encoder_mask(case) as encode()'s mask when given), decoder
// over the reference's decoder_input_ids: the worst max |logit difference| / max(1, max |reference
// logit|) over the cases of reference `ref_name`.
inline float max_logit_error(const Model& model, const std::string& ref_name,
                             const std::function<std::vector<int32_t>(const nlohmann::json&)>& encoder_mask = {}) {
  auto ref = load_ref(ref_name);
  WeightStore store({ref_path(ref_name, ".logits.safetensors")});
  const int64_t V = model.config().vocab_size;
  float worst = 0.f;
  for (const auto& c : ref["cases"]) {
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    auto dec = c["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> mask = encoder_mask ? encoder_mask(c) : std::vector<int32_t>{};
    auto state = model.new_state(1, int(dec.size()));
    model.encode(input_ids, mask, int(input_ids.size()), *state);
    auto logits = model.decode(dec, {}, int(dec.size()), *state, true);
    TensorView expected = store.require(c["forward"]["logits_tensor"].get<std::string>());
    auto positions = c["forward"]["positions"].get<std::vector<int>>();
    EXPECT_EQ(expected.shape, (Shape{int64_t(positions.size()), V}));
    float max_ref = 0.f, max_diff = 0.f;
    for (size_t r = 0; r < positions.size(); ++r)
      for (int64_t i = 0; i < V; ++i) {
        const float e = expected.data[r * V + i], got = logits[positions[r] * V + i];
        max_ref = std::max(max_ref, std::abs(e));
        max_diff = std::max(max_diff, std::abs(e - got));
      }
    worst = std::max(worst, max_diff / std::max(1.f, max_ref));
  }
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
