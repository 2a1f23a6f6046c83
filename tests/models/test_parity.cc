// Forward logits and greedy decoding of every fixture model against transformers' references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "autolm/auto.h"
#include "fixtures.h"
#include "logit_error.h"

namespace autolm {
namespace {

using test::load_ref;
using test::model_dir;

class ModelParity : public ::testing::TestWithParam<std::string> {};

// Runs the model on one case and compares the rows of logits the reference stored.
TEST_P(ModelParity, ForwardLogits) {
  const std::string name = GetParam();
  AUTOLM_SKIP_IF_NO_SHARED(name);
  auto model = load_model(model_dir(name));
  // Every tensor of the checkpoint is read (transformers would warn about the others).
  EXPECT_TRUE(model->unused_tensors().empty()) << name << ": " << ::testing::PrintToString(model->unused_tensors());
  auto ref = load_ref(name);
  WeightStore store({test::ref_path(name, ".logits.safetensors")});
  for (const auto& c : ref["cases"]) {
    const test::LogitError err = test::case_logit_error(*model, store, c);
    EXPECT_LE(err.max_diff, 1e-4f * std::max(1.f, err.max_ref)) << name << " prompt: " << c["prompt"];
  }
}

// Greedy decoding with the minimal loop (prefill, then one token per step, stop at EOS).
// Forced BOS/EOS and bad_words are generation settings, covered by the generate() tests; this
// checks the model's incremental path against the references that do not need them.
TEST_P(ModelParity, GreedyIncremental) {
  const std::string name = GetParam();
  AUTOLM_SKIP_IF_NO_SHARED(name);
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  auto gen_cfg = load_json_file(model_dir(name) + "/generation_config.json");
  if (gen_cfg.contains("forced_bos_token_id") || gen_cfg.contains("forced_eos_token_id") || gen_cfg.contains("bad_words_ids"))
    GTEST_SKIP() << name << " needs generation processors (forced tokens / bad words); see test_generate_parity";
  std::set<int32_t> eos;
  if (gen_cfg["eos_token_id"].is_array()) for (auto& e : gen_cfg["eos_token_id"]) eos.insert(e.get<int32_t>());
  else if (gen_cfg["eos_token_id"].is_number()) eos.insert(gen_cfg["eos_token_id"].get<int32_t>());
  const int64_t V = model->config().vocab_size;
  for (const auto& c : ref["cases"]) {
    const auto& g = c["gen"]["greedy"];
    const int max_new = g["params"]["max_new_tokens"].get<int>();
    auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> seq;
    std::unique_ptr<DecodeState> state;
    std::vector<int32_t> next;
    if (model->family() == ModelFamily::kSeq2Seq) {
      state = model->new_state(1, max_new + 1);
      model->encode(input_ids, {}, int(input_ids.size()), *state);
      next = {int32_t(*model->config().decoder_start_token_id)};
    } else {
      state = model->new_state(1, int(input_ids.size()) + max_new);
      next = input_ids;
    }
    seq = next;
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

std::vector<std::string> all_models() {
  std::vector<std::string> v = test::causal_models();
  for (auto& s : test::seq2seq_models()) v.push_back(s);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelParity, ::testing::ValuesIn(test::with_shared(all_models())),
                         test::FixtureName());

// Batched decoding with left padding (causal) gives each row what it gives alone.
TEST(ModelBatch, CausalLeftPaddingMatchesReference) {
  for (const auto& name : test::causal_models()) {
    auto model = load_model(model_dir(name));
    auto ref = load_ref(name);
    if (!ref.contains("batch")) continue;
    const auto& b = ref["batch"];
    const int rows = int(b["input_ids"].size());
    const int len = int(b["input_ids"][0].size());
    const int max_new = b["params"]["max_new_tokens"].get<int>();
    std::vector<int32_t> ids, mask;
    for (int r = 0; r < rows; ++r) {
      for (auto v : b["input_ids"][r]) ids.push_back(v.get<int32_t>());
      for (auto v : b["attention_mask"][r]) mask.push_back(v.get<int32_t>());
    }
    auto state = model->new_state(rows, len + max_new);
    const int64_t V = model->config().vocab_size;
    std::vector<std::vector<int32_t>> seqs(rows);
    for (int r = 0; r < rows; ++r) seqs[r].assign(ids.begin() + r * len, ids.begin() + (r + 1) * len);
    auto logits = model->decode(ids, mask, len, *state, false);
    for (int step = 0; step < max_new; ++step) {
      std::vector<int32_t> next(rows);
      for (int r = 0; r < rows; ++r) {
        auto row = logits.subspan(r * V, V);
        next[r] = int32_t(std::max_element(row.begin(), row.end()) - row.begin());
        seqs[r].push_back(next[r]);
      }
      if (step + 1 < max_new) logits = model->decode(next, {}, 1, *state, false);
    }
    // A row that reaches EOS is padded afterwards in the reference; compare up to its EOS.
    auto gen_cfg = load_json_file(model_dir(name) + "/generation_config.json");
    std::set<int32_t> eos;
    if (gen_cfg["eos_token_id"].is_array()) for (auto& e : gen_cfg["eos_token_id"]) eos.insert(e.get<int32_t>());
    else if (gen_cfg["eos_token_id"].is_number()) eos.insert(gen_cfg["eos_token_id"].get<int32_t>());
    for (int r = 0; r < rows; ++r) {
      auto expected = b["sequences"][r].get<std::vector<int32_t>>();
      ASSERT_EQ(expected.size(), seqs[r].size()) << name;
      for (size_t i = len; i < expected.size(); ++i) {
        ASSERT_EQ(seqs[r][i], expected[i]) << name << " row " << r << " position " << i;
        if (eos.count(expected[i])) break;
      }
    }
  }
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

// Right-padded encoder inputs: the encoder mask keeps each row's output what it is alone.
TEST(ModelBatch, Seq2SeqRightPaddingMatchesReference) {
  for (const std::string name : {"t5-tiny", "t5-v1_1-tiny", "t5-numbers"}) {
    auto model = load_model(test::model_dir(name));
    auto ref = test::load_ref(name);
    const auto& b = ref["batch"];
    const int rows = int(b["input_ids"].size()), len = int(b["input_ids"][0].size());
    const int max_new = b["params"]["max_new_tokens"].get<int>();
    std::vector<int32_t> ids, mask;
    for (int r = 0; r < rows; ++r) {
      for (auto v : b["input_ids"][r]) ids.push_back(v.get<int32_t>());
      for (auto v : b["attention_mask"][r]) mask.push_back(v.get<int32_t>());
    }
    auto state = model->new_state(rows, max_new + 1);
    model->encode(ids, mask, len, *state);
    const int64_t V = model->config().vocab_size;
    const int32_t eos = int32_t(model->config().eos_token_id.at(0));
    std::vector<int32_t> next(rows, int32_t(*model->config().decoder_start_token_id));
    std::vector<std::vector<int32_t>> seqs(rows, std::vector<int32_t>{next[0]});
    for (int step = 0; step < max_new; ++step) {
      auto logits = model->decode(next, {}, 1, *state, false);
      for (int r = 0; r < rows; ++r) {
        auto row = logits.subspan(r * V, V);
        next[r] = int32_t(std::max_element(row.begin(), row.end()) - row.begin());
        seqs[r].push_back(next[r]);
      }
    }
    for (int r = 0; r < rows; ++r) {
      auto expected = b["sequences"][r].get<std::vector<int32_t>>();
      for (size_t i = 0; i < expected.size(); ++i) {
        ASSERT_EQ(seqs[r][i], expected[i]) << name << " row " << r << " position " << i;
        if (i > 0 && expected[i] == eos) break;
      }
    }
  }
}

}  // namespace
}  // namespace autolm

namespace autolm {
namespace {

// The Model is immutable: several threads decoding with their own states at once get what
// each gets alone (the kernels' thread pool runs one task at a time; others run inline).
TEST(ModelThreads, ConcurrentDecodesMatchSequential) {
  auto model = load_model(test::model_dir("qwen3-tiny"));
  auto ref = test::load_ref("qwen3-tiny");
  auto ids = ref["cases"][0]["input_ids"].get<std::vector<int32_t>>();
  auto run_once = [&] {
    auto state = model->new_state(1, int(ids.size()) + 16);
    auto l = model->decode(ids, {}, int(ids.size()), *state, false);
    std::vector<int32_t> out;
    for (int step = 0; step < 16; ++step) {
      const int32_t tok = int32_t(std::max_element(l.begin(), l.end()) - l.begin());
      out.push_back(tok);
      l = model->decode(std::span<const int32_t>(&tok, 1), {}, 1, *state, false);
    }
    return out;
  };
  const auto expected = run_once();
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) results[t] = run_once();
    });
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

}  // namespace
}  // namespace autolm
