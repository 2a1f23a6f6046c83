// What the mixture-of-experts architectures of issue 14 need beyond the parity suites that
// every fixture of test::causal_models() runs (tests/models/test_parity.cc, generate,
// truncate, bf16 / int8, wrong class): int8 applied per expert, and the Hub configs' spellings of
// the expert count. References by tests/data/make_arch_fixtures_moe.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "autolm/auto.h"
#include "fixtures.h"

namespace autolm {
namespace {

using test::load_ref;
using test::model_dir;

class MoeParity : public ::testing::TestWithParam<std::string> {};

// int8 weights (every matrix, each expert's too): the last position's logits stay within a few
// percent (relative RMS) of the bf16 checkpoint's, and differ (int8 was applied).
TEST_P(MoeParity, Int8StaysClose) {
  const std::string name = GetParam();
  LoadOptions opt;
  opt.dtype = Dtype::kInt8;
  auto q = load_model(model_dir(name), opt);
  auto f = load_model(model_dir(name));
  auto input_ids = load_ref(name)["cases"][0]["input_ids"].get<std::vector<int32_t>>();
  auto sq = q->new_state(1, int(input_ids.size())), sf = f->new_state(1, int(input_ids.size()));
  auto lq = q->decode(input_ids, {}, int(input_ids.size()), *sq, false);
  auto lf = f->decode(input_ids, {}, int(input_ids.size()), *sf, false);
  double num = 0, den = 0;
  for (size_t i = 0; i < lf.size(); ++i) {
    num += double(lq[i] - lf[i]) * (lq[i] - lf[i]);
    den += double(lf[i]) * lf[i];
  }
  EXPECT_LT(std::sqrt(num / den), 0.05) << name;
  EXPECT_GT(num, 0.0) << name << ": int8 not applied";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MoeParity, ::testing::Values("mixtral-tiny", "qwen2_moe-tiny", "qwen3_moe-tiny"),
                         test::FixtureName());

// Qwen3-MoE and Mixtral Hub configs spell the expert count num_experts (transformers maps it to
// num_local_experts and saves that): both spellings load the same model.
TEST(ArchConfig, NumExpertsSpellingOfHubConfigs) {
  namespace fs = std::filesystem;
  for (const std::string name : {"qwen3_moe-tiny", "mixtral-tiny"}) {
    const fs::path dir = fs::temp_directory_path() / ("autolm_arch_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(model_dir(name))) fs::copy(e.path(), dir / e.path().filename());
    auto cfg = load_json_file((dir / "config.json").string());
    ASSERT_TRUE(cfg.contains("num_local_experts"));
    cfg["num_experts"] = cfg["num_local_experts"];
    cfg.erase("num_local_experts");
    std::ofstream(dir / "config.json") << cfg.dump();
    auto hub = load_model(dir.string());
    auto saved = load_model(model_dir(name));
    const std::vector<int32_t> ids = {5, 17, 300, 42};
    auto a = hub->new_state(1, 4), b = saved->new_state(1, 4);
    auto la = hub->decode(ids, {}, 4, *a, false);
    auto lb = saved->decode(ids, {}, 4, *b, false);
    EXPECT_TRUE(std::equal(la.begin(), la.end(), lb.begin(), lb.end())) << name;
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace autolm
