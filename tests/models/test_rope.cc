// RoPE scaling variants (default, linear, dynamic, yarn, llama3, longrope) against transformers' logits
// (tests/data/rope, made by tests/data/make_rope_refs.py), in both config spellings.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "autolm/auto.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/safetensors.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

const std::string kDir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/rope";

// The reference prompts (40 tokens) run past the cases' max_position_embeddings (32), which
// dynamic and longrope scaling exist for: allow them as AUTOLM_MAX_POSITIONS would.
class LongerPositions {
 public:
  LongerPositions() : saved_(input_limits()) {
    InputLimits l = saved_;
    l.max_positions = 64;
    set_input_limits(l);
  }
  ~LongerPositions() { set_input_limits(saved_); }

 private:
  InputLimits saved_;
};

// Full forward of all prompt positions, and the same positions fed one token at a time
// (dynamic scaling recomputes frequencies from the longest position of each call, as HF does).
void check_model(const std::string& dir, const json& c, const TensorView& expected, bool incremental) {
  auto model = load_model(dir);
  auto ids = c["input_ids"].get<std::vector<int32_t>>();
  const int T = int(ids.size());
  const int64_t V = expected.shape[1];
  auto state = model->new_state(1, T);
  std::vector<float> got;
  if (incremental) {
    for (int t = 0; t < T; ++t) {
      auto l = model->decode(std::span<const int32_t>(&ids[t], 1), {}, 1, *state, false);
      got.insert(got.end(), l.begin(), l.end());
    }
  } else {
    auto l = model->decode(ids, {}, T, *state, true);
    got.assign(l.begin(), l.end());
  }
  float max_ref = 0, max_diff = 0;
  for (int64_t i = 0; i < T * V; ++i) {
    max_ref = std::max(max_ref, std::abs(expected.data[i]));
    max_diff = std::max(max_diff, std::abs(expected.data[i] - got[i]));
  }
  EXPECT_LE(max_diff, 1e-4f * std::max(1.f, max_ref)) << c["name"] << (incremental ? " incremental" : " prefill");
}

TEST(Rope, ScalingVariantsMatchTransformers) {
  LongerPositions longer;
  json refs = load_json_file(kDir + "/refs.json");
  WeightStore logits({kDir + "/refs.logits.safetensors"});
  ASSERT_EQ(refs["cases"].size(), 6u);
  for (const auto& c : refs["cases"]) {
    TensorView expected = logits.require(c["logits_tensor"].get<std::string>());
    const std::string dir = kDir + "/" + c["name"].get<std::string>();
    check_model(dir, c, expected, false);
    // Dynamic NTK and longrope switch frequencies with the call's longest position (stateful
    // in transformers' incremental path); prefill is the reference for them.
    if (c["name"] != "dynamic" && c["name"] != "longrope") check_model(dir, c, expected, true);
  }
}

TEST(Rope, LegacyConfigSpellingLoadsAlike) {
  LongerPositions longer;
  json refs = load_json_file(kDir + "/refs.json");
  WeightStore logits({kDir + "/refs.logits.safetensors"});
  for (const auto& c : refs["cases"]) {
    const fs::path scratch = fs::temp_directory_path() / ("autolm-rope-" + std::to_string(::getpid()) + "-" + c["name"].get<std::string>());
    fs::create_directories(scratch);
    fs::copy_file(kDir + "/" + c["name"].get<std::string>() + "/model.safetensors", scratch / "model.safetensors",
                  fs::copy_options::overwrite_existing);
    std::ofstream(scratch / "config.json") << c["legacy_config"].dump();
    ASSERT_FALSE(c["legacy_config"].contains("rope_parameters"));
    check_model(scratch.string(), c, logits.require(c["logits_tensor"].get<std::string>()), false);
    fs::remove_all(scratch);
  }
}

TEST(Rope, UnknownRopeTypeNamesIt) {
  const fs::path scratch = fs::temp_directory_path() / ("autolm-rope-bad-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  fs::copy_file(kDir + "/default/model.safetensors", scratch / "model.safetensors", fs::copy_options::overwrite_existing);
  json cfg = load_json_file(kDir + "/default/config.json");
  cfg["rope_parameters"]["rope_type"] = "longrope2";
  std::ofstream(scratch / "config.json") << cfg.dump();
  try {
    load_model(scratch.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("longrope2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace autolm
