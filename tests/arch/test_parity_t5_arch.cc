// What the encoder-decoder architectures of issue 14 on the T5 stack or beside it
// (switch_transformers, t5gemma, longt5) need beyond the suites every fixture of
// test::seq2seq_models() runs (tests/models/test_parity.cc, generate and beam search, batches,
// truncate, bf16 / int8, wrong class; checkpoints and references by
// tests/data/make_t5_arch_fixtures.py): the switches that only these fixtures exercise matter.
#include <gtest/gtest.h>

#include "arch_helpers.h"

namespace autolm {
namespace {

using test::max_logit_error;
using test::model_dir;
using test::patched_copy;

// The fixture's 40-token encoder input overflows expert_capacity (8): without the capacity the
// logits move well past the tolerance, so ForwardLogits checks the dropping.
TEST(SwitchTransformers, ExpertCapacityDropsTokens) {
  const std::string dir = patched_copy("switch-tiny", {{"expert_capacity", 1000}});
  auto model = load_model(dir);
  EXPECT_GT(max_logit_error(*model, "switch-tiny"), 1e-2f);
  std::filesystem::remove_all(dir);
}

TEST(SwitchTransformers, BadRouterSettingsAreRefused) {
  for (const auto& [changes, needle] :
       std::vector<std::pair<nlohmann::json, std::string>>{{{{"router_dtype", "bfloat16"}}, "router_dtype"},
                                                           {{{"expert_capacity", -1}}, "expert_capacity"},
                                                           {{{"num_experts", 0}}, "num_experts"}}) {
    const std::string dir = patched_copy("switch-tiny", changes);
    try {
      load_model(dir);
      ADD_FAILURE() << changes.dump() << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
  }
}

// The fixtures' encoder inputs (8-40 tokens) are longer than local_radius (3) and span several
// global blocks (4 tokens): attending over the whole input instead moves the logits well past the
// tolerance, so ForwardLogits checks the windows and the global tokens.
TEST(LongT5, LocalRadiusAndGlobalBlocksMatter) {
  for (const auto& [name, changes] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"longt5-local-tiny", {{"local_radius", 1000}}},
           {"longt5-tglobal-tiny", {{"local_radius", 1000}}},
           {"longt5-tglobal-tiny", {{"global_block_size", 2}}}}) {
    const std::string dir = patched_copy(name, changes);
    auto model = load_model(dir);
    EXPECT_GT(max_logit_error(*model, name), 1e-2f) << name << " " << changes.dump();
    std::filesystem::remove_all(dir);
  }
}

// T5Gemma's encoder window is bidirectional: |query - key| <= sliding_window.
TEST(T5Gemma, SlidingWindowMatters) {
  auto encoder = load_json_file(model_dir("t5gemma-tiny") + "/config.json")["encoder"];
  encoder["sliding_window"] = 1000;
  const std::string dir = patched_copy("t5gemma-tiny", {{"encoder", encoder}});
  auto model = load_model(dir);
  EXPECT_GT(max_logit_error(*model, "t5gemma-tiny"), 1e-3f);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace autolm
