// Assisted generation on fake models: prompt lookup and assistant drafts give exactly plain
// greedy's tokens (with processors, EOS, stop strings, lengths, both families), speculative
// sampling keeps the main model's distribution, acceptance statistics, and transformers' refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "autolm/generation.h"
#include "fake_model.h"
#include "generate/logits_processors.h"

namespace autolm {
namespace {

using test::FakeModel;

GenerationConfig base(int max_new = 30) {
  GenerationConfig c;
  c.eos_token_id = {1};
  c.pad_token_id = 0;
  c.decoder_start_token_id = 0;
  c.max_new_tokens = max_new;
  return c;
}

// A model that mostly continues a cycle of period 5 (so earlier n-grams predict the next tokens)
// but deviates where a hash of the history says so, and emits EOS rarely.
void cyclic_logits(const std::vector<int32_t>& h, const std::vector<int32_t>& enc, std::span<float> out) {
  test::default_logits(h, enc, out);
  const int32_t last = h.empty() ? 2 : h.back();
  const int32_t next = 2 + (last + 1 - 2 + 14) % 14;  // 2..15
  out[next] += 7.0f;
  out[1] -= 2.0f;
}

struct Case {
  ModelFamily family;
  std::vector<int32_t> prompt;
};

std::vector<Case> cases() {
  return {{ModelFamily::kCausal, {5, 6, 7, 8, 9, 10, 5, 6}}, {ModelFamily::kCausal, {3}},
          {ModelFamily::kSeq2Seq, {4, 9, 9, 4, 2}}};
}

GenerateOutput assisted(const Model& m, const std::vector<int32_t>& prompt, const GenerationConfig& cfg,
                        const Model* assistant, const GenerationConfig* acfg = nullptr) {
  GenerateOptions o;
  o.assistant_model = assistant;
  o.assistant_generation_config = acfg;
  return generate(m, {prompt}, cfg, {}, o);
}

void expect_same(const GenerateOutput& a, const GenerateOutput& plain) {
  EXPECT_EQ(a.sequences, plain.sequences);
  EXPECT_EQ(a.new_tokens, plain.new_tokens);
  EXPECT_EQ(a.num_generated, plain.num_generated);
  EXPECT_EQ(a.finish_reasons, plain.finish_reasons);
  EXPECT_EQ(a.prompt_length, plain.prompt_length);
}

TEST(Assisted, PromptLookupGreedyEqualsPlainGreedy) {
  for (const auto& c : cases())
    for (auto fn : {test::LogitsFn(cyclic_logits), test::LogitsFn(test::default_logits)})
      for (int ngram : {1, 2, 3})
        for (int num : {1, 3, 10}) {
          FakeModel m(c.family, 16, 0, fn);
          auto cfg = base(40);
          cfg.no_repeat_ngram_size = ngram == 3 ? 4 : 0;  // processors see each draft's prefix
          const auto plain = generate(m, {c.prompt}, cfg);
          cfg.prompt_lookup_num_tokens = num;
          cfg.max_matching_ngram_size = ngram;
          const auto out = assisted(m, c.prompt, cfg, nullptr);
          SCOPED_TRACE("ngram " + std::to_string(ngram) + " num " + std::to_string(num));
          expect_same(out, plain);
          EXPECT_LE(out.accepted_draft_tokens, out.draft_tokens);
        }
}

TEST(Assisted, PromptLookupAcceptsRepeatedText) {
  FakeModel m(ModelFamily::kCausal, 16, 0, cyclic_logits);
  auto cfg = base(60);
  cfg.eos_token_id = {};
  std::vector<int32_t> prompt;
  for (int i = 0; i < 30; ++i) prompt.push_back(2 + i % 14);
  const auto plain = generate(m, {prompt}, cfg);
  cfg.prompt_lookup_num_tokens = 8;
  m.decodes = 0;
  const auto out = assisted(m, prompt, cfg, nullptr);
  expect_same(out, plain);
  EXPECT_GT(out.draft_tokens, 0);
  EXPECT_GT(out.accepted_draft_tokens * 2, out.draft_tokens);
  // Fewer forwards of the main model than new tokens.
  EXPECT_LT(m.decodes, 40);
}

TEST(Assisted, AssistantGreedyEqualsPlainGreedy) {
  for (const auto& c : cases())
    for (bool same : {true, false}) {
      FakeModel m(c.family, 16, 0, cyclic_logits);
      FakeModel other(c.family, 16, 0, test::default_logits);
      const FakeModel& draft = same ? m : other;
      for (const char* schedule : {"constant", "heuristic", "heuristic_transient"})
        for (double threshold : {0.0, 0.4}) {
          GenerationConfig acfg;
          acfg.num_assistant_tokens = 3;
          acfg.num_assistant_tokens_schedule = schedule;
          acfg.assistant_confidence_threshold = threshold;
          auto cfg = base(35);
          cfg.repetition_penalty = 1.3f;
          cfg.min_new_tokens = 4;
          const auto plain = generate(m, {c.prompt}, cfg);
          const auto out = assisted(m, c.prompt, cfg, &draft, &acfg);
          SCOPED_TRACE(std::string(schedule) + (same ? " same" : " other"));
          expect_same(out, plain);
          EXPECT_GT(out.draft_tokens, 0);
          EXPECT_LE(out.accepted_draft_tokens, out.draft_tokens);
        }
    }
}

TEST(Assisted, SameModelDraftIsAlwaysAcceptedBeforeTheEnd) {
  FakeModel m(ModelFamily::kCausal, 16, 0, cyclic_logits);
  GenerationConfig acfg;
  acfg.num_assistant_tokens = 4;
  acfg.assistant_confidence_threshold = 0.0;
  auto cfg = base(41);
  cfg.eos_token_id = {};
  const auto out = assisted(m, {3, 4}, cfg, &m, &acfg);
  // Each step drafts min(4, budget - 1) tokens and keeps them all plus one: 41 = 8 × 5 + 1.
  EXPECT_EQ(out.draft_tokens, 32);
  EXPECT_EQ(out.accepted_draft_tokens, 32);
  expect_same(out, generate(m, {{3, 4}}, cfg));
}

TEST(Assisted, StopStringsEosAndOutputScoresMatchPlain) {
  FakeModel m(ModelFamily::kCausal, 16, 0, cyclic_logits);
  GenerateHooks hooks;
  hooks.decode = [](std::span<const int32_t> ids) {
    std::string s;
    for (int32_t t : ids) s += char('a' + t);
    return s;
  };
  auto cfg = base(40);
  cfg.stop_strings = {"kl"};  // tokens 10, 11
  cfg.output_scores = true;
  const std::vector<int32_t> prompt = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 2, 3};
  const auto plain = generate(m, {prompt}, cfg, hooks);
  ASSERT_EQ(plain.finish_reasons[0], FinishReason::kStopString);
  cfg.prompt_lookup_num_tokens = 10;
  std::vector<int32_t> streamed;
  hooks.on_step = [&](const StreamStep& s) {
    streamed.push_back(s.tokens[0]);
    return true;
  };
  const auto out = generate(m, {prompt}, cfg, hooks, {});
  expect_same(out, plain);
  EXPECT_EQ(streamed, out.new_tokens[0]);
  ASSERT_EQ(out.scores.size(), plain.scores.size());
  for (size_t i = 0; i < out.scores.size(); ++i) EXPECT_EQ(out.scores[i], plain.scores[i]) << i;
}

TEST(Assisted, StreamCallbackStopsGeneration) {
  FakeModel m(ModelFamily::kCausal, 16, 0, cyclic_logits);
  auto cfg = base(40);
  cfg.prompt_lookup_num_tokens = 10;
  GenerateHooks hooks;
  int steps = 0;
  hooks.on_step = [&](const StreamStep& s) {
    EXPECT_EQ(s.step, steps);
    return ++steps < 7;
  };
  const auto out = generate(m, {{2, 3, 4, 5, 6, 7, 8, 9, 2, 3}}, cfg, hooks, {});
  EXPECT_EQ(out.num_generated[0], 7);
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kCallback);
}

// Speculative sampling keeps the main model's distribution: the first two tokens' marginals
// over many seeds, against the exact ones.
TEST(Assisted, SpeculativeSamplingKeepsTheDistribution) {
  const int V = 8;
  auto sharp = [](const std::vector<int32_t>& h, const std::vector<int32_t>& e, std::span<float> out) {
    test::default_logits(h, e, out);
    for (float& x : out) x *= 0.5f;
  };
  auto other = [](const std::vector<int32_t>& h, const std::vector<int32_t>& e, std::span<float> out) {
    std::vector<int32_t> g = h;
    g.push_back(99);
    test::default_logits(g, e, out);
  };
  FakeModel m(ModelFamily::kCausal, V, 0, sharp), draft(ModelFamily::kCausal, V, 0, other);
  GenerationConfig acfg;
  acfg.num_assistant_tokens = 2;
  acfg.assistant_confidence_threshold = 0.0;
  auto cfg = base(2);
  cfg.eos_token_id = {};
  cfg.do_sample = true;
  cfg.top_k = 0;
  const std::vector<int32_t> prompt = {3, 4};
  auto probs = [&](const std::vector<int32_t>& h) {
    auto l = m.logits_for(h);
    std::vector<float> p(V);
    gen::softmax(l, p);
    return p;
  };
  std::vector<double> first(V, 0), second(V, 0);
  const auto p1 = probs(prompt);
  for (int a = 0; a < V; ++a) {
    first[a] = p1[a];
    auto h = prompt;
    h.push_back(a);
    const auto p2 = probs(h);
    for (int b = 0; b < V; ++b) second[b] += p1[a] * p2[b];
  }
  const int N = 10000;
  std::vector<double> f(V, 0), s(V, 0);
  int64_t proposed = 0, accepted = 0;
  for (int i = 0; i < N; ++i) {
    cfg.seed = i;
    const auto out = assisted(m, prompt, cfg, &draft, &acfg);
    ASSERT_EQ(out.new_tokens[0].size(), 2u);
    f[out.new_tokens[0][0]] += 1.0 / N;
    s[out.new_tokens[0][1]] += 1.0 / N;
    proposed += out.draft_tokens;
    accepted += out.accepted_draft_tokens;
  }
  double tv1 = 0, tv2 = 0;
  for (int v = 0; v < V; ++v) {
    tv1 += std::fabs(f[v] - first[v]) / 2;
    tv2 += std::fabs(s[v] - second[v]) / 2;
  }
  EXPECT_LT(tv1, 0.03);
  EXPECT_LT(tv2, 0.03);
  // Some drafts are rejected (the draft differs), some accepted.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, proposed);
}

TEST(Assisted, SamplingWithPromptLookupRuns) {
  FakeModel m(ModelFamily::kSeq2Seq, 16, 0, cyclic_logits);
  auto cfg = base(30);
  cfg.do_sample = true;
  cfg.seed = 7;
  cfg.prompt_lookup_num_tokens = 4;
  const auto a = assisted(m, {4, 5}, cfg, nullptr);
  const auto b = assisted(m, {4, 5}, cfg, nullptr);
  EXPECT_EQ(a.sequences, b.sequences);  // seeded
  EXPECT_GE(a.num_generated[0], 1);
}

TEST(Assisted, EnsembleWeightChangesOnlyAcceptance) {
  FakeModel m(ModelFamily::kCausal, 16, 0, cyclic_logits);
  FakeModel d(ModelFamily::kCausal, 16, 0, test::default_logits);
  GenerationConfig acfg;
  acfg.num_assistant_tokens = 3;
  auto cfg = base(20);
  cfg.assistant_ensemble_weight = 0.999999;  // ~ lossless
  expect_same(assisted(m, {3, 4, 5}, cfg, &d, &acfg), generate(m, {{3, 4, 5}}, base(20)));
  cfg.prompt_lookup_num_tokens = 3;
  EXPECT_THROW(assisted(m, {3, 4, 5}, cfg, nullptr), Error);
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error (" << needle << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Assisted, RefusedAsTransformersRefuses) {
  FakeModel m(ModelFamily::kCausal, 16), d(ModelFamily::kCausal, 16), big(ModelFamily::kCausal, 32),
      s2s(ModelFamily::kSeq2Seq, 16);
  GenerateOptions o{.assistant_model = &d};
  auto cfg = base(5);
  expect_error([&] { generate(m, {{3}, {4}}, cfg, {}, o); }, "batch_size = 1");
  auto beams = cfg;
  beams.num_beams = 2;
  expect_error([&] { generate(m, {{3}}, beams, {}, o); }, "num_beams=2");
  auto nrs = cfg;
  nrs.do_sample = true;
  nrs.num_return_sequences = 2;
  expect_error([&] { generate(m, {{3}}, nrs, {}, o); }, "num_return_sequences has to be 1");
  expect_error([&] { generate(m, {{3}}, cfg, {}, GenerateOptions{.assistant_model = &big}); }, "universal assisted");
  expect_error([&] { generate(m, {{3}}, cfg, {}, GenerateOptions{.assistant_model = &s2s}); }, "family");
  auto lookup = cfg;
  lookup.prompt_lookup_num_tokens = 3;
  expect_error([&] { generate(m, {{3}, {4}}, lookup); }, "prompt lookup");
}

TEST(Assisted, ConfigFieldsParseAndValidate) {
  GenerationConfig c;
  c.update({{"prompt_lookup_num_tokens", 10}, {"max_matching_ngram_size", 3}, {"num_assistant_tokens", 5},
            {"num_assistant_tokens_schedule", "heuristic"}, {"assistant_confidence_threshold", 0.2},
            {"assistant_ensemble_weight", 0.5}});
  EXPECT_EQ(c.prompt_lookup_num_tokens, 10);
  EXPECT_EQ(c.max_matching_ngram_size, 3);
  EXPECT_EQ(c.num_assistant_tokens, 5);
  EXPECT_EQ(c.num_assistant_tokens_schedule, "heuristic");
  EXPECT_EQ(c.assistant_confidence_threshold, 0.2);
  EXPECT_EQ(c.assistant_ensemble_weight, 0.5);
  EXPECT_NO_THROW(c.validate());
  EXPECT_EQ(c.to_json()["num_assistant_tokens_schedule"], "heuristic");
  for (const auto& [k, v] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"prompt_lookup_num_tokens", 0}, {"prompt_lookup_num_tokens", 5000}, {"max_matching_ngram_size", 0},
           {"num_assistant_tokens", -1}, {"num_assistant_tokens_schedule", "fast"},
           {"assistant_confidence_threshold", 1.5}, {"assistant_ensemble_weight", 1.0}}) {
    GenerationConfig d;
    d.update({{k, v}});
    expect_error([&] { d.validate(); }, k);
  }
  GenerationConfig e;
  expect_error([&] { e.update({{"num_assistant_tokens_schedule", 3}}); }, "num_assistant_tokens_schedule");
  expect_error([&] { e.update({{"assistant_early_exit", 4}}); }, "assistant_early_exit");
}

}  // namespace
}  // namespace autolm
