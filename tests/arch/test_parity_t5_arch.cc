// The encoder-decoder architectures of issue 14 built on the T5 stack or beside it
// (switch_transformers, t5gemma, longt5) against transformers 5.24 (checkpoints and references by
// tests/data/make_t5_arch_fixtures.py): forward logits within the README tolerance, incremental
// greedy decoding, generate()'s greedy and beam sequences exact, right-padded batches, int8
// weights, and the wrong-Auto-class refusal.
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

const std::vector<std::string>& t5_arch_models() {
  static const std::vector<std::string> v = {"switch-tiny", "t5gemma-tiny", "longt5-tglobal-tiny", "longt5-local-tiny"};
  return v;
}

// Encoder input, then the reference's decoder_input_ids in one decode: every position's logits.
// Returns the largest difference relative to max(1, largest reference logit) over the cases.
float max_logit_error(const Model& model, const std::string& name) {
  auto ref = load_ref(name);
  WeightStore store({test::ref_path(name, ".logits.safetensors")});
  const int64_t V = model.config().vocab_size;
  float worst = 0.f;
  for (const auto& c : ref["cases"]) {
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    auto dec = c["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
    auto state = model.new_state(1, int(dec.size()));
    model.encode(input_ids, {}, int(input_ids.size()), *state);
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

class T5ArchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(T5ArchParity, ForwardLogits) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  EXPECT_TRUE(model->unused_tensors().empty()) << name << ": " << ::testing::PrintToString(model->unused_tensors());
  EXPECT_EQ(model->family(), ModelFamily::kSeq2Seq);
  EXPECT_LE(max_logit_error(*model, name), 1e-4f) << name;
}

// Encode, then the decoder start token and one token per step through the cache, stopping at EOS.
TEST_P(T5ArchParity, GreedyIncremental) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  std::set<int64_t> eos(model->config().eos_token_id.begin(), model->config().eos_token_id.end());
  const int64_t V = model->config().vocab_size;
  for (const auto& c : ref["cases"]) {
    const auto& g = c["gen"]["greedy"];
    const int max_new = g["params"]["max_new_tokens"].get<int>();
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    auto state = model->new_state(1, max_new + 1);
    model->encode(input_ids, {}, int(input_ids.size()), *state);
    std::vector<int32_t> next = {int32_t(*model->config().decoder_start_token_id)}, seq = next;
    for (int step = 0; step < max_new; ++step) {
      auto logits = model->decode(next, {}, 1, *state, false);
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
TEST_P(T5ArchParity, GenerateMatchesTransformers) {
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

// Right-padded encoder batch: generate() gives transformers' sequences.
TEST_P(T5ArchParity, RightPaddedBatch) {
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

// int8 weights (every matrix, each expert's too): the decoder's logits stay within 10 % (relative
// RMS; these are 32-wide random models, whose per-row weight scales and per-block activation
// quantization are coarse) of the bf16 checkpoint's, and differ (int8 was applied).
TEST_P(T5ArchParity, Int8StaysClose) {
  const std::string name = GetParam();
  LoadOptions opt;
  opt.dtype = Dtype::kInt8;
  auto q = load_model(model_dir(name), opt);
  auto f = load_model(model_dir(name));
  auto c = load_ref(name)["cases"][0];
  auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
  auto dec = c["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
  auto sq = q->new_state(1, int(dec.size())), sf = f->new_state(1, int(dec.size()));
  q->encode(input_ids, {}, int(input_ids.size()), *sq);
  f->encode(input_ids, {}, int(input_ids.size()), *sf);
  auto lq = q->decode(dec, {}, int(dec.size()), *sq, false);
  auto lf = f->decode(dec, {}, int(dec.size()), *sf, false);
  double num = 0, den = 0;
  for (size_t i = 0; i < lf.size(); ++i) {
    num += double(lq[i] - lf[i]) * (lq[i] - lf[i]);
    den += double(lf[i]) * lf[i];
  }
  EXPECT_LT(std::sqrt(num / den), 0.1) << name;
  EXPECT_GT(num, 0.0) << name << ": int8 not applied";
}

// AutoModelForCausalLM refuses an encoder-decoder model, naming AutoModelForSeq2SeqLM.
TEST_P(T5ArchParity, WrongAutoClassIsRefused) {
  const std::string name = GetParam();
  EXPECT_NE(load_ref(name)["wrong_class"].value("error", ""), "") << "transformers loaded it as causal";
  try {
    AutoModelForCausalLM::from_pretrained(model_dir(name));
    FAIL() << name << " loaded as causal";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kWrongClass) << e.what();
    EXPECT_NE(std::string(e.what()).find("AutoModelForSeq2SeqLM"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AutoModelForSeq2SeqLM::from_pretrained(model_dir(name)));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, T5ArchParity, ::testing::ValuesIn(t5_arch_models()), [](const auto& info) {
  std::string n = info.param;
  std::replace_if(n.begin(), n.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return n;
});

// A copy of fixture `name` with config.json keys replaced.
std::string patched_copy(const std::string& name, const nlohmann::json& changes) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("autolm_t5arch_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(model_dir(name))) fs::copy(e.path(), dir / e.path().filename());
  auto cfg = load_json_file((dir / "config.json").string());
  cfg.update(changes);
  std::ofstream(dir / "config.json") << cfg.dump();
  return dir.string();
}

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
