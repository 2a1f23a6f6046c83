// OpenAI's presence / frequency penalties against hand-computed values, and GenerateHooks::logprobs
// against a log-softmax computed here independently (in double) from the fake model's logits.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autolm/generation.h"
#include "fake_model.h"
#include "generate/logits_processors.h"
#include "generate/logprobs.h"

namespace autolm::gen {
namespace {

TEST(OpenAIPenalties, SubtractPresenceOnceAndFrequencyPerCount) {
  std::vector<float> s = {2.0f, -1.0f, 0.5f, 3.0f, 1.0f};
  std::vector<int32_t> generated = {3, 0, 3, 3};  // token 3 three times, token 0 once
  presence_frequency_penalty(s, generated, 0.5f, 0.25f);
  EXPECT_FLOAT_EQ(s[0], 2.0f - 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(s[1], -1.0f);
  EXPECT_FLOAT_EQ(s[2], 0.5f);
  EXPECT_FLOAT_EQ(s[3], 3.0f - 0.75f - 0.5f);
  EXPECT_FLOAT_EQ(s[4], 1.0f);
  // Negative penalties encourage repetition; out-of-range ids are ignored.
  std::vector<float> t = {0.0f, 0.0f};
  std::vector<int32_t> g2 = {1, 1, 7, -3};
  presence_frequency_penalty(t, g2, -1.0f, -2.0f);
  EXPECT_FLOAT_EQ(t[0], 0.0f);
  EXPECT_FLOAT_EQ(t[1], 5.0f);
}

TEST(OpenAIPenalties, PipelineCountsGeneratedTokensOnlyNotThePrompt) {
  GenerationConfig cfg;
  cfg.presence_penalty = 1.0f;
  cfg.frequency_penalty = 0.5f;
  // Causal: prompt of 3 tokens (2 2 2), then 2 generated (4 2): cur_len 5, input_len 3.
  LogitsPipeline p(cfg, 3, 20, 0);
  std::vector<float> s(6, 0.0f);
  std::vector<int32_t> ids = {2, 2, 2, 4, 2};
  p.apply(s, RowView{ids, {}}, 5);
  EXPECT_FLOAT_EQ(s[2], -1.5f);  // generated once (prompt occurrences do not count)
  EXPECT_FLOAT_EQ(s[4], -1.5f);
  EXPECT_FLOAT_EQ(s[0], 0.0f);
  // First step: nothing generated yet, nothing penalised.
  std::vector<float> f(6, 0.0f);
  std::vector<int32_t> prompt = {2, 2, 2};
  p.apply(f, RowView{prompt, {}}, 3);
  for (float x : f) EXPECT_EQ(x, 0.0f);
}

TEST(OpenAIPenalties, ConfigFieldsValidateAndRoundTrip) {
  GenerationConfig c;
  c.update({{"presence_penalty", 1.5}, {"frequency_penalty", -0.5}});
  EXPECT_FLOAT_EQ(c.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(c.frequency_penalty, -0.5f);
  EXPECT_EQ(c.to_json()["presence_penalty"], 1.5);
  c.validate();
  c.presence_penalty = 2.5f;
  EXPECT_THROW(c.validate(), Error);
  c.presence_penalty = 0;
  c.frequency_penalty = std::nanf("");
  EXPECT_THROW(c.validate(), Error);
}

// log_softmax in double, independently of the library.
std::vector<double> reference_log_softmax(std::span<const float> x) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, double(v));
  double s = 0;
  for (float v : x) s += std::exp(double(v) - m);
  std::vector<double> out;
  for (float v : x) out.push_back(double(v) - m - std::log(s));
  return out;
}

TEST(Logprobs, TokenLogprobsTopNSortedWithTiesByIdAndChosen) {
  std::vector<float> logits = {1.0f, 3.0f, 3.0f, -2.0f, 0.5f};
  StepLogprobs out;
  token_logprobs(logits, 4, 3, out);
  const auto ref = reference_log_softmax(logits);
  EXPECT_EQ(out.chosen.token, 4);
  EXPECT_NEAR(out.chosen.logprob, ref[4], 1e-6);
  ASSERT_EQ(out.top.size(), 3u);
  EXPECT_EQ(out.top[0].token, 1);
  EXPECT_EQ(out.top[1].token, 2);
  EXPECT_EQ(out.top[2].token, 0);
  for (const auto& t : out.top) EXPECT_NEAR(t.logprob, ref[t.token], 1e-6);
  token_logprobs(logits, 1, 0, out);
  EXPECT_TRUE(out.top.empty());
  token_logprobs(logits, 1, 100, out);  // more than the vocabulary: all of it
  EXPECT_EQ(out.top.size(), logits.size());
  EXPECT_EQ(out.top.back().token, 3);
}

TEST(Logprobs, GenerateReportsRawLogSoftmaxOfEveryStepEvenWhenSampling) {
  test::FakeModel model(ModelFamily::kCausal, 32);
  GenerationConfig cfg;
  cfg.max_new_tokens = 6;
  cfg.do_sample = true;
  cfg.temperature = 0.7f;  // warpers do not change the reported (raw) log-probabilities
  cfg.top_k = 5;
  cfg.repetition_penalty = 1.3f;
  cfg.seed = 7;
  const std::vector<std::vector<int32_t>> prompts = {{3, 4, 5}, {6}};
  GenerateHooks hooks;
  hooks.logprobs = 4;
  std::vector<std::vector<StepLogprobs>> seen(prompts.size());
  hooks.on_step = [&](const StreamStep& step) {
    EXPECT_EQ(step.logprobs.size(), prompts.size());
    for (size_t r = 0; r < prompts.size(); ++r)
      if (step.was_active[r]) {
        EXPECT_EQ(step.logprobs[r].chosen.token, step.tokens[r]);
        seen[r].push_back(step.logprobs[r]);
      }
    return true;
  };
  const GenerateOutput out = generate(model, prompts, cfg, hooks);
  for (size_t r = 0; r < prompts.size(); ++r) {
    ASSERT_EQ(int(seen[r].size()), out.num_generated[r]);
    std::vector<int32_t> history = prompts[r];
    for (int i = 0; i < out.num_generated[r]; ++i) {
      std::vector<float> logits(32);
      test::default_logits(history, {}, logits);
      const auto ref = reference_log_softmax(logits);
      const int32_t tok = out.new_tokens[r][i];
      EXPECT_EQ(seen[r][i].chosen.token, tok);
      EXPECT_NEAR(seen[r][i].chosen.logprob, ref[tok], 1e-5) << r << " " << i;
      ASSERT_EQ(seen[r][i].top.size(), 4u);
      for (const auto& t : seen[r][i].top) EXPECT_NEAR(t.logprob, ref[t.token], 1e-5);
      for (size_t k = 1; k < 4; ++k) EXPECT_GE(seen[r][i].top[k - 1].logprob, seen[r][i].top[k].logprob);
      history.push_back(tok);
    }
  }
}

TEST(Logprobs, RefusedWithoutStepCallbackOrWithBeams) {
  test::FakeModel model(ModelFamily::kCausal, 16);
  GenerationConfig cfg;
  cfg.max_new_tokens = 2;
  GenerateHooks hooks;
  hooks.logprobs = 1;
  EXPECT_THROW(generate(model, {{1, 2}}, cfg, hooks), Error);
  hooks.on_step = [](const StreamStep&) { return true; };
  cfg.num_beams = 2;
  EXPECT_THROW(generate(model, {{1, 2}}, cfg, hooks), Error);
}

}  // namespace
}  // namespace autolm::gen
