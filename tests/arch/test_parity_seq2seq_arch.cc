// The encoder-decoder architectures of issue 14 built on BART's layers (blenderbot,
// blenderbot-small, plbart, fsmt, led) against transformers 5.24 (references by
// tests/data/make_seq2seq_arch_fixtures.py): decoder logits within the README tolerance,
// incremental greedy decoding, generate()'s greedy and beam sequences exact, right-padded
// batches, int8 weights, and the wrong-Auto-class refusal.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "fixtures.h"

namespace autolm {
namespace {

using test::load_ref;
using test::model_dir;

const std::vector<std::string>& seq2seq_arch_models() {
  static const std::vector<std::string> v = {"blenderbot-tiny", "blenderbot_small-tiny", "plbart-tiny", "fsmt-tiny",
                                             "led-tiny"};
  return v;
}

class Seq2SeqArchParity : public ::testing::TestWithParam<std::string> {};

// Encoder over each prompt, decoder over transformers' first 4 decoder ids: the worst max
// |logit difference| / max(1, max |reference logit|) over the cases.
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

// Every row of logits of every case within the README tolerance; every tensor consumed.
TEST_P(Seq2SeqArchParity, ForwardLogits) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  EXPECT_TRUE(model->unused_tensors().empty()) << name << ": " << ::testing::PrintToString(model->unused_tensors());
  EXPECT_LE(max_logit_error(*model, name), 1e-4f) << name;
}

// Encode once, then one decoder token per step through the self-attention cache and the
// cross-attention K/V computed at encode(), stopping at EOS.
TEST_P(Seq2SeqArchParity, GreedyIncremental) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  auto ref = load_ref(name);
  const int64_t V = model->config().vocab_size;
  const int32_t eos = int32_t(model->config().eos_token_id.at(0));
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
      if (tok == eos) break;
    }
    EXPECT_EQ(seq, g["sequences"][0].get<std::vector<int32_t>>()) << name << " prompt: " << c["prompt"];
  }
}

// generate() with every setting of the reference (greedy, beam search with beams sharing their
// input's cross-attention K/V): sequences exact, beam scores within 1e-4.
TEST_P(Seq2SeqArchParity, GenerateMatchesTransformers) {
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

// Right-padded encoder inputs with their attention mask: transformers' batched sequences.
TEST_P(Seq2SeqArchParity, RightPaddedBatch) {
  const std::string name = GetParam();
  auto model = load_model(model_dir(name));
  const auto ref = load_ref(name);
  const auto& b = ref["batch"];
  ASSERT_EQ(b["padding_side"], "right");
  GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir(name));
  cfg.update(b["params"]);
  auto out = generate(*model, b["input_ids"].get<std::vector<std::vector<int32_t>>>(),
                      b["attention_mask"].get<std::vector<std::vector<int32_t>>>(), cfg);
  EXPECT_EQ(out.sequences, b["sequences"].get<std::vector<std::vector<int32_t>>>()) << name;
}

// int8 weights: the logits stay within a few percent (relative RMS) of the bf16 checkpoint's,
// and differ (int8 was applied); beam search runs on them.
TEST_P(Seq2SeqArchParity, Int8StaysClose) {
  const std::string name = GetParam();
  LoadOptions opt;
  opt.dtype = Dtype::kInt8;
  auto q = load_model(model_dir(name), opt);
  auto f = load_model(model_dir(name));
  const auto ref = load_ref(name);
  auto input_ids = ref["cases"][0]["input_ids"].get<std::vector<int32_t>>();
  auto dec = ref["cases"][0]["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
  auto sq = q->new_state(1, int(dec.size())), sf = f->new_state(1, int(dec.size()));
  q->encode(input_ids, {}, int(input_ids.size()), *sq);
  f->encode(input_ids, {}, int(input_ids.size()), *sf);
  auto lq = q->decode(dec, {}, int(dec.size()), *sq, true);
  auto lf = f->decode(dec, {}, int(dec.size()), *sf, true);
  double num = 0, den = 0;
  for (size_t i = 0; i < lf.size(); ++i) {
    num += double(lq[i] - lf[i]) * (lq[i] - lf[i]);
    den += double(lf[i]) * lf[i];
  }
  EXPECT_LT(std::sqrt(num / den), 0.05) << name;
  EXPECT_GT(num, 0.0) << name << ": int8 not applied";
  GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir(name));
  cfg.update(ref["cases"][0]["gen"]["beam4"]["params"]);
  auto out = generate(*q, {input_ids}, cfg);
  EXPECT_EQ(out.sequences.size(), 2u) << name;
}

// AutoModelForCausalLM refuses an encoder-decoder model, naming AutoModelForSeq2SeqLM
// (transformers would build a decoder-only *ForCausalLM from it, dropping the encoder).
TEST_P(Seq2SeqArchParity, WrongAutoClassIsRefused) {
  const std::string name = GetParam();
  try {
    AutoModelForCausalLM::from_pretrained(model_dir(name));
    FAIL() << name << " loaded as causal";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kWrongClass) << e.what();
    EXPECT_NE(std::string(e.what()).find("AutoModelForSeq2SeqLM"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(AutoModelForSeq2SeqLM::from_pretrained(model_dir(name)));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Seq2SeqArchParity, ::testing::ValuesIn(seq2seq_arch_models()), [](const auto& info) {
  std::string n = info.param;
  std::replace_if(n.begin(), n.end(), [](char ch) { return !std::isalnum(ch); }, '_');
  return n;
});

// A copy of fixture `name` with config.json keys replaced.
std::string patched_copy(const std::string& name, const nlohmann::json& changes) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("autolm_s2sarch_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(model_dir(name))) fs::copy(e.path(), dir / e.path().filename());
  auto cfg = load_json_file((dir / "config.json").string());
  cfg.update(changes);
  std::ofstream(dir / "config.json") << cfg.dump();
  return dir.string();
}

// The fixture's prompts are longer than its local windows (attention_window 4 and 8: 2 and 4
// tokens either side): windows covering the whole input move the logits well past the
// tolerance, so ForwardLogits checks the windows.
TEST(Led, AttentionWindowMatters) {
  const std::string dir = patched_copy("led-tiny", {{"attention_window", 64}});
  auto model = load_model(dir);
  EXPECT_GT(max_logit_error(*model, "led-tiny"), 1e-2f);
  std::filesystem::remove_all(dir);
}

TEST(Led, BadAttentionWindowIsRefused) {
  for (const nlohmann::json& changes : {nlohmann::json{{"attention_window", 3}}, nlohmann::json{{"attention_window", 0}},
                                        nlohmann::json{{"attention_window", {4}}},
                                        nlohmann::json{{"attention_window", {4, 5}}}}) {
    const std::string dir = patched_copy("led-tiny", changes);
    try {
      load_model(dir);
      ADD_FAILURE() << changes.dump() << " loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("attention_window"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
  }
}

// transformers pads the encoder input to a multiple of max(attention_window) (here 24) before
// the position table (64 rows): 50 tokens (padded to 72) are refused, naming the padding; 48 fit.
TEST(Led, PaddedInputMustFitThePositionTable) {
  const std::string dir = patched_copy("led-tiny", {{"attention_window", {4, 24}}});
  auto model = load_model(dir);
  const std::vector<int32_t> fifty(50, 5), forty_eight(48, 5);
  auto state = model->new_state(1, 4);
  try {
    model->encode(fifty, {}, 50, *state);
    ADD_FAILURE() << "50 tokens padded to 72 encoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("padded to 72"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("max_encoder_position_embeddings"), std::string::npos) << e.what();
  }
  auto ok = model->new_state(1, 4);
  EXPECT_NO_THROW(model->encode(forty_eight, {}, 48, *ok));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace autolm
