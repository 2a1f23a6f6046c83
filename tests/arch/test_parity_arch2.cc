// The architectures of issue 14 against transformers 5.24 (references by
// tests/data/make_arch_fixtures_moe.py): forward logits within the README tolerance, incremental
// greedy decoding, generate()'s greedy and beam sequences exact, left-padded batches, int8
// weights (per expert for MoE), `info`-level facts and the wrong-Auto-class refusal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "fixtures.h"

namespace autolm {
namespace {

using test::load_ref;
using test::model_dir;

const std::vector<std::string>& arch_models() {
  static const std::vector<std::string> v = {"mixtral-tiny",    "qwen2_moe-tiny", "qwen3_moe-tiny",   "phi-tiny",
                                             "gpt_neox-tiny",   "falcon-tiny",    "falcon-new-tiny",  "starcoder2-tiny",
                                             "gpt_bigcode-tiny", "opt-tiny",      "opt-pre-tiny"};
  return v;
}

std::set<int32_t> eos_of(const std::string& name) {
  auto gen_cfg = load_json_file(model_dir(name) + "/generation_config.json");
  std::set<int32_t> eos;
  if (gen_cfg["eos_token_id"].is_array()) for (auto& e : gen_cfg["eos_token_id"]) eos.insert(e.get<int32_t>());
  else if (gen_cfg["eos_token_id"].is_number()) eos.insert(gen_cfg["eos_token_id"].get<int32_t>());
  return eos;
}

class ArchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ArchParity, ForwardLogits) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  EXPECT_TRUE(model->unused_tensors().empty()) << name << ": " << ::testing::PrintToString(model->unused_tensors());
  WeightStore store({test::ref_path(name, ".logits.safetensors")});
  const int64_t V = model->config().vocab_size;
  for (const auto& c : ref["cases"]) {
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    auto state = model->new_state(1, int(input_ids.size()));
    auto logits = model->decode(input_ids, {}, int(input_ids.size()), *state, true);
    TensorView expected = store.require(c["forward"]["logits_tensor"].get<std::string>());
    auto positions = c["forward"]["positions"].get<std::vector<int>>();
    ASSERT_EQ(expected.shape, (Shape{int64_t(positions.size()), V}));
    float max_ref = 0.f, max_diff = 0.f;
    for (size_t r = 0; r < positions.size(); ++r)
      for (int64_t i = 0; i < V; ++i) {
        const float e = expected.data[r * V + i], got = logits[positions[r] * V + i];
        max_ref = std::max(max_ref, std::abs(e));
        max_diff = std::max(max_diff, std::abs(e - got));
      }
    EXPECT_LE(max_diff, 1e-4f * std::max(1.f, max_ref)) << name << " prompt: " << c["prompt"];
  }
}

// Prefill, then one token per step through the KV cache, stopping at EOS.
TEST_P(ArchParity, GreedyIncremental) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  const auto eos = eos_of(name);
  const int64_t V = model->config().vocab_size;
  for (const auto& c : ref["cases"]) {
    const auto& g = c["gen"]["greedy"];
    const int max_new = g["params"]["max_new_tokens"].get<int>();
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    auto state = model->new_state(1, int(input_ids.size()) + max_new);
    std::vector<int32_t> next = input_ids, seq = input_ids;
    for (int step = 0; step < max_new; ++step) {
      auto logits = model->decode(next, {}, int(next.size()), *state, false);
      const int32_t tok = int32_t(std::max_element(logits.begin(), logits.begin() + V) - logits.begin());
      seq.push_back(tok);
      next = {tok};
      if (eos.count(tok)) break;
    }
    EXPECT_EQ(seq, g["sequences"][0].get<std::vector<int32_t>>()) << name << " prompt: " << c["prompt"];
  }
}

// generate() with every setting of the reference (greedy, beam search): sequences exact, beam
// scores within 1e-4.
TEST_P(ArchParity, GenerateMatchesTransformers) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  for (const auto& c : ref["cases"]) {
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    for (auto it = c["gen"].begin(); it != c["gen"].end(); ++it) {
      GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir(name));
      cfg.update(it.value()["params"]);
      auto out = generate(*model, {input_ids}, cfg);
      EXPECT_EQ(out.sequences, it.value()["sequences"].get<std::vector<std::vector<int32_t>>>())
          << name << " " << it.key() << " prompt: " << c["prompt"];
      if (it.value().contains("sequences_scores")) {
        auto scores = it.value()["sequences_scores"].get<std::vector<float>>();
        ASSERT_EQ(out.sequences_scores.size(), scores.size());
        for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(out.sequences_scores[i], scores[i], 1e-4) << name << " " << i;
      }
    }
  }
}

// Left-padded batch: generate() gives transformers' padded sequences.
TEST_P(ArchParity, LeftPaddedBatch) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  const auto ref = load_ref(name);
  const auto& b = ref["batch"];
  GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir(name));
  cfg.update(b["params"]);
  auto out = generate(*model, b["input_ids"].get<std::vector<std::vector<int32_t>>>(),
                      b["attention_mask"].get<std::vector<std::vector<int32_t>>>(), cfg);
  EXPECT_EQ(out.sequences, b["sequences"].get<std::vector<std::vector<int32_t>>>()) << name;
}

// int8 weights (every matrix, each MoE expert's too): the last position's logits stay within a
// few percent (relative RMS) of the bf16 checkpoint's, and differ (int8 was applied).
TEST_P(ArchParity, Int8StaysClose) {
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

// AutoModelForSeq2SeqLM refuses a decoder-only model, naming AutoModelForCausalLM.
TEST_P(ArchParity, WrongAutoClassIsRefused) {
  const std::string name = GetParam();
  try {
    AutoModelForSeq2SeqLM::from_pretrained(model_dir(name));
    FAIL() << name << " loaded as seq2seq";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kWrongClass) << e.what();
    EXPECT_NE(std::string(e.what()).find("AutoModelForCausalLM"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AutoModelForCausalLM::from_pretrained(model_dir(name)));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ArchParity, ::testing::ValuesIn(arch_models()), [](const auto& info) {
  std::string n = info.param;
  std::replace_if(n.begin(), n.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return n;
});

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

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
