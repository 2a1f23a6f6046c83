// GPTQ checkpoints (quant_method "gptq", bits 4, desc_act false): tests/data/make_gptq_fixture.py
// writes a tiny llama in GPTQ's packing and transformers' logits for the same weights
// dequantized; autolm repacks the nibbles into int4 at load and must match them. Unsupported
// quantization configs are refused naming the key and value.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "cpu/matmul.h"
#include "io/json_file.h"

namespace autolm {
namespace {

const std::string kDir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/gptq/llama-gptq-tiny";

TEST(Gptq, LogitsAndGreedyMatchTransformersOnTheDequantizedWeights) {
  const auto ref = load_json_file(kDir + ".json");
  auto model = load_model(kDir);
  EXPECT_EQ(model->unused_tensors(), std::vector<std::string>{});
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  auto state = model->new_state(1, int64_t(ids.size()));
  auto logits = model->decode(ids, {}, int64_t(ids.size()), *state, true);
  const auto& want = ref["logits"];
  ASSERT_EQ(logits.size(), want.size() * want[0].size());
  const int64_t V = int64_t(want[0].size());
  // Exact weights, float32 arithmetic: the scalar / AVX2 / AVX-512 kernels agree to float
  // rounding; VNNI rounds activations to int8 per block of 32 (as for int8 weights), ≈ 0.4 %.
  const double tol = cpu::best_kernel().exact ? 2e-4 : 3e-2;
  double max_diff = 0, max_ref = 0;
  for (size_t p = 0; p < want.size(); ++p)
    for (int64_t v = 0; v < V; ++v) {
      max_diff = std::max(max_diff, std::abs(double(logits[p * V + v]) - want[p][v].get<double>()));
      max_ref = std::max(max_ref, std::abs(want[p][v].get<double>()));
    }
  RecordProperty("max_abs_diff", std::to_string(max_diff));
  EXPECT_LE(max_diff, tol * std::max(1.0, max_ref)) << "isa " << cpu::best_kernel().isa << ", max |logit| " << max_ref;
  GenerationConfig cfg = GenerationConfig::for_model(*model);
  cfg.max_new_tokens = 8;
  cfg.do_sample = false;
  auto out = generate(*model, {ids}, cfg);
  EXPECT_EQ(out.sequences[0], ref["greedy"].get<std::vector<int32_t>>());
}

// A copy of the fixture with config.json's quantization_config edited.
std::string with_quantization_config(const std::string& name, const nlohmann::json& edit) {
  const std::string dir = testing::TempDir() + "/gptq-" + name;
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(kDir + "/model.safetensors", dir + "/model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  auto config = load_json_file(kDir + "/config.json");
  for (auto& [k, v] : edit.items()) config["quantization_config"][k] = v;
  std::ofstream(dir + "/config.json") << config.dump();
  return dir;
}

TEST(Gptq, UnsupportedConfigsAreRefusedNamingThem) {
  const std::pair<nlohmann::json, std::string> cases[] = {
      {{{"quant_method", "awq"}}, "quant_method \"awq\" is not supported"},
      {{{"quant_method", "bitsandbytes"}}, "quant_method \"bitsandbytes\""},
      {{{"bits", 8}}, "bits = 8"},
      {{{"desc_act", true}}, "desc_act = true"},
      {{{"group_size", 48}}, "group_size = 48"},
      {{{"checkpoint_format", "marlin"}}, "checkpoint_format \"marlin\""},
      {{{"group_size", 64}}, "GPTQ tensor"},  // the file's qzeros / scales are for groups of 32
  };
  int i = 0;
  for (const auto& [edit, message] : cases) {
    const std::string dir = with_quantization_config(std::to_string(i++), edit);
    try {
      load_model(dir);
      ADD_FAILURE() << edit.dump() << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << edit.dump() << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace autolm
