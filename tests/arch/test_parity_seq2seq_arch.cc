// What the encoder-decoder architectures of issue 14 built on BART's layers (blenderbot,
// blenderbot-small, plbart, fsmt, led) need beyond the suites every fixture of
// test::seq2seq_models() runs (tests/models/test_parity.cc, generate and beam search, batches,
// truncate, bf16 / int8, wrong class; references by tests/data/make_seq2seq_arch_fixtures.py):
// LED's local window, its input padding and its global attention.
#include <gtest/gtest.h>

#include "arch_helpers.h"
#include "autolm/generation.h"

namespace autolm {
namespace {

using test::load_ref;
using test::max_logit_error;
using test::model_dir;
using test::patched_copy;

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

// LED with global attention (references of the led-tiny checkpoint with a global_attention_mask,
// tests/data/make_seq2seq_arch_fixtures.py: the first two tokens of each prompt, the first and
// fourth of every row of the padded batch).
constexpr const char* kLedGlobal = "led-tiny-global";

// encode()'s mask for an input with a global_attention_mask (LEDEncoder._merge_to_attention_mask).
std::vector<int32_t> merged_mask(const std::vector<int32_t>& global) {
  std::vector<int32_t> m(global.size());
  for (size_t i = 0; i < global.size(); ++i) m[i] = 1 + global[i];
  return m;
}

// Within the README tolerance with the global tokens, far from it without them (the fixture's
// global tokens change the result).
TEST(LedGlobal, ForwardLogits) {
  auto model = load_model(model_dir("led-tiny"));
  auto global = [](const nlohmann::json& c) { return merged_mask(c["global_attention_mask"].get<std::vector<int32_t>>()); };
  EXPECT_LE(max_logit_error(*model, kLedGlobal, global), 1e-4f);
  EXPECT_GT(max_logit_error(*model, kLedGlobal), 1e-2f);
}

// generate(global_attention_mask=…): greedy and beam sequences exact, beam scores within 1e-4.
TEST(LedGlobal, GenerateMatchesTransformers) {
  auto model = load_model(model_dir("led-tiny"));
  auto ref = load_ref(kLedGlobal);
  for (const auto& c : ref["cases"]) {
    GenerateOptions options;
    options.global_attention_mask = {c["global_attention_mask"].get<std::vector<int32_t>>()};
    for (auto it = c["gen"].begin(); it != c["gen"].end(); ++it) {
      GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir("led-tiny"));
      cfg.update(it.value()["params"]);
      auto out = generate(*model, {c["input_ids"].get<std::vector<int32_t>>()}, cfg, {}, options);
      EXPECT_EQ(out.sequences, it.value()["sequences"].get<std::vector<std::vector<int32_t>>>())
          << it.key() << " prompt: " << c["prompt"];
      if (it.value().contains("sequences_scores")) {
        auto scores = it.value()["sequences_scores"].get<std::vector<float>>();
        ASSERT_EQ(out.sequences_scores.size(), scores.size());
        for (size_t i = 0; i < scores.size(); ++i) EXPECT_NEAR(out.sequences_scores[i], scores[i], 1e-4) << i;
      }
    }
  }
}

// Right-padded batch, global tokens inside every row: transformers' sequences.
TEST(LedGlobal, RightPaddedBatch) {
  auto model = load_model(model_dir("led-tiny"));
  const auto b = load_ref(kLedGlobal)["batch"];
  GenerationConfig cfg = GenerationConfig::from_pretrained(model_dir("led-tiny"));
  cfg.update(b["params"]);
  GenerateOptions options;
  options.global_attention_mask = b["global_attention_mask"].get<std::vector<std::vector<int32_t>>>();
  auto out = generate(*model, b["input_ids"].get<std::vector<std::vector<int32_t>>>(),
                      b["attention_mask"].get<std::vector<std::vector<int32_t>>>(), cfg, {}, options);
  EXPECT_EQ(out.sequences, b["sequences"].get<std::vector<std::vector<int32_t>>>());
}

// A global_attention_mask of the wrong shape or values, or for a model without global attention,
// is refused naming it.
TEST(LedGlobal, BadGlobalMaskIsRefused) {
  auto led = load_model(model_dir("led-tiny"));
  auto bart = load_model(model_dir("bart-tiny"));
  auto gpt2 = load_model(model_dir("gpt2-tiny"));
  const std::vector<int32_t> prompt = {0, 100, 200, 300, 2};
  auto expect_refused = [&](const Model& m, std::vector<std::vector<int32_t>> global, const std::string& needle) {
    GenerationConfig cfg = GenerationConfig::for_model(m);
    cfg.max_new_tokens = 2;
    GenerateOptions options;
    options.global_attention_mask = std::move(global);
    try {
      generate(m, {prompt}, cfg, {}, options);
      ADD_FAILURE() << m.config().model_type << ": " << needle << " not refused";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_refused(*led, {{1, 0, 0, 0}}, "global_attention_mask row 0 has 4 values for an input of 5 tokens");
  expect_refused(*led, {{1, 0, 0, 0, 0}, {1, 0, 0, 0, 0}}, "global_attention_mask has 2 rows for 1 inputs");
  expect_refused(*led, {{1, 2, 0, 0, 0}}, "global_attention_mask row 0 position 1 is 2");
  expect_refused(*led, {{1, 0, 0, -1, 0}}, "position 3 is -1");
  expect_refused(*bart, {{1, 0, 0, 0, 0}}, "model_type \"bart\" does not have");
  expect_refused(*gpt2, {{1, 0, 0, 0, 0}}, "decoder-only");
  // encode() itself: mask values beyond 2.
  auto state = led->new_state(1, 4);
  const std::vector<int32_t> bad = {1, 3, 1, 1, 1};
  EXPECT_THROW(led->encode(prompt, bad, 5, *state), Error);
  // An all-zero mask is no global attention: the same result as none.
  GenerationConfig cfg = GenerationConfig::for_model(*led);
  cfg.max_new_tokens = 4;
  GenerateOptions zeros;
  zeros.global_attention_mask = {{0, 0, 0, 0, 0}};
  EXPECT_EQ(generate(*led, {prompt}, cfg, {}, zeros).sequences, generate(*led, {prompt}, cfg).sequences);
}

}  // namespace
}  // namespace autolm
