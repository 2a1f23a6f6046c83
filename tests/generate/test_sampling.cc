// Sampling: the limits that must equal greedy, warpers that must never emit a disallowed token,
// empirical frequencies against the softmax (chi-square, fixed seed), seed reproducibility.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autolm/generation.h"
#include "fake_model.h"
#include "generate/logits_processors.h"
#include "generate/sampling.h"

namespace autolm {
namespace {

using test::FakeModel;

GenerationConfig sampling(int max_new, uint64_t seed) {
  GenerationConfig c;
  c.eos_token_id = {1};
  c.pad_token_id = 0;
  c.max_new_tokens = max_new;
  c.do_sample = true;
  c.top_k = 0;
  c.seed = seed;
  return c;
}

GenerationConfig greedy(int max_new) {
  GenerationConfig c = sampling(max_new, 0);
  c.do_sample = false;
  return c;
}

TEST(Sampling, TinyTemperatureEqualsGreedy) {
  FakeModel m(ModelFamily::kCausal, 32);
  auto g = generate(m, {{3, 4}, {9}}, greedy(16));
  for (uint64_t seed : {1u, 2u, 3u}) {
    auto c = sampling(16, seed);
    c.temperature = 1e-4f;
    EXPECT_EQ(generate(m, {{3, 4}, {9}}, c).sequences, g.sequences) << seed;
  }
}

TEST(Sampling, TopK1EqualsGreedy) {
  FakeModel m(ModelFamily::kCausal, 32);
  auto g = generate(m, {{3, 4}, {9}}, greedy(16));
  for (uint64_t seed : {7u, 8u}) {
    auto c = sampling(16, seed);
    c.top_k = 1;
    EXPECT_EQ(generate(m, {{3, 4}, {9}}, c).sequences, g.sequences) << seed;
  }
}

TEST(Sampling, SameSeedSameOutputDifferentSeedsDiffer) {
  FakeModel m(ModelFamily::kCausal, 64);
  auto a = generate(m, {{3, 4}}, sampling(24, 42));
  auto b = generate(m, {{3, 4}}, sampling(24, 42));
  EXPECT_EQ(a.sequences, b.sequences);
  std::set<std::vector<int32_t>> distinct;
  for (uint64_t seed = 0; seed < 8; ++seed) distinct.insert(generate(m, {{3, 4}}, sampling(24, seed)).sequences[0]);
  EXPECT_GE(distinct.size(), 6u);
}

TEST(Sampling, NumReturnSequencesGivesRowsPerInput) {
  FakeModel m(ModelFamily::kCausal, 64);
  auto c = sampling(10, 5);
  c.num_return_sequences = 3;
  auto out = generate(m, {{3, 4}, {5}}, c);
  ASSERT_EQ(out.sequences.size(), 6u);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(out.sequences[r][0], 3);  // rows 0-2 are input 0
  for (int r = 3; r < 6; ++r) EXPECT_EQ(out.sequences[r][1], 5);  // input 1, left-padded
  FakeModel s(ModelFamily::kSeq2Seq, 64);
  c.decoder_start_token_id = 0;
  out = generate(s, {{3, 4}, {5}}, c);
  EXPECT_EQ(out.sequences.size(), 6u);
  EXPECT_EQ(s.encodes, 1);
}

// Runs sampling over many seeds and checks, step by step, that every emitted token lies in the
// allowed set computed independently from the raw logits of that step.
template <typename Allowed>
void check_allowed(const GenerationConfig& base, Allowed allowed) {
  FakeModel m(ModelFamily::kCausal, 48);
  for (uint64_t seed = 0; seed < 40; ++seed) {
    GenerationConfig c = base;
    c.seed = seed;
    std::vector<int32_t> prompt = {static_cast<int32_t>(2 + seed % 5), 7};
    auto out = generate(m, {prompt}, c);
    std::vector<int32_t> hist = prompt;
    for (int i = 0; i < out.num_generated[0]; ++i) {
      const int32_t t = out.new_tokens[0][i];
      auto l = m.logits_for(hist);
      std::vector<float> p(l.size());
      gen::softmax(l, p);
      EXPECT_TRUE(allowed(l, p, t)) << "seed " << seed << " step " << i << " token " << t;
      hist.push_back(t);
    }
  }
}

TEST(Sampling, TopKNeverLeavesTheTopK) {
  auto c = sampling(12, 0);
  c.top_k = 3;
  check_allowed(c, [](const std::vector<float>& l, const std::vector<float>&, int32_t t) {
    int better = 0;
    for (float x : l) better += x > l[t];
    return better < 3;
  });
}

TEST(Sampling, TopPNeverLeavesTheNucleus) {
  auto c = sampling(12, 0);
  c.top_p = 0.6f;
  check_allowed(c, [](const std::vector<float>&, const std::vector<float>& p, int32_t t) {
    // t is allowed iff the mass of tokens strictly more likely than t is < top_p
    double above = 0;
    for (float x : p)
      if (x > p[t]) above += x;
    return above < 0.6 + 1e-6;
  });
}

TEST(Sampling, MinPNeverGoesBelowTheThreshold) {
  auto c = sampling(12, 0);
  c.min_p = 0.3f;
  check_allowed(c, [](const std::vector<float>&, const std::vector<float>& p, int32_t t) {
    return p[t] >= 0.3f * *std::max_element(p.begin(), p.end()) - 1e-7f;
  });
}

TEST(Sampling, TypicalPNeverEmitsRemovedTokens) {
  auto c = sampling(12, 0);
  c.typical_p = 0.5f;
  check_allowed(c, [](const std::vector<float>& l, const std::vector<float>&, int32_t t) {
    std::vector<float> s = l;
    gen::typical(s, 0.5f, 1);
    return std::isfinite(s[t]);
  });
}

TEST(Sampling, EpsilonCutoffNeverEmitsRemovedTokens) {
  auto c = sampling(12, 0);
  c.epsilon_cutoff = 0.1f;
  check_allowed(c, [](const std::vector<float>& l, const std::vector<float>& p, int32_t t) {
    // kept: probability >= epsilon, or the most likely token (min_tokens_to_keep = 1)
    return p[t] >= 0.1f * (1 - 1e-5f) || l[t] == *std::max_element(l.begin(), l.end());
  });
}

TEST(Sampling, EtaCutoffNeverEmitsRemovedTokens) {
  auto c = sampling(12, 0);
  c.eta_cutoff = 0.2f;
  check_allowed(c, [](const std::vector<float>& l, const std::vector<float>& p, int32_t t) {
    double h = 0;
    for (float x : p)
      if (x > 0) h -= x * std::log(static_cast<double>(x));
    const double cutoff = std::min(0.2, std::sqrt(0.2) * std::exp(-h));
    return p[t] >= cutoff * (1 - 1e-5) || l[t] == *std::max_element(l.begin(), l.end());
  });
}

double chi_square(const std::vector<int>& counts, const std::vector<float>& p, int n) {
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double e = n * static_cast<double>(p[i]);
    chi += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi;
}

TEST(Sampling, FrequenciesMatchSoftmaxChiSquare) {
  std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 0.0f, -1.0f, 1.5f, 0.7f};
  std::vector<float> p(logits.size());
  gen::softmax(logits, p);
  gen::Sampler s(12345);
  const int n = 200000;
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  // df = 7: P(chi2 > 24.32) = 0.001
  EXPECT_LT(chi_square(counts, p, n), 24.32);
}

TEST(Sampling, GenerateFirstTokenFrequenciesMatchSoftmax) {
  FakeModel m(ModelFamily::kCausal, 6);
  std::vector<int32_t> prompt = {2, 3};
  auto l = m.logits_for(prompt);
  const float t = 0.7f;
  for (float& x : l) x /= t;
  std::vector<float> p(l.size());
  gen::softmax(l, p);
  const int n = 4000;
  std::vector<int> counts(l.size(), 0);
  for (int i = 0; i < n; ++i) {
    auto c = sampling(1, static_cast<uint64_t>(i));
    c.temperature = t;
    ++counts[generate(m, {prompt}, c).new_tokens[0][0]];
  }
  // df = 5: P(chi2 > 20.52) = 0.001
  EXPECT_LT(chi_square(counts, p, n), 20.52);
}

TEST(Sampling, WithoutReplacementReturnsDistinct) {
  gen::Sampler s(3);
  std::vector<float> logits = {0.0f, 1.0f, 0.0f, 2.0f};
  logits[2] = gen::kNegInf;
  auto picks = s.sample_without_replacement(logits, 3);
  std::set<int32_t> uniq(picks.begin(), picks.end());
  EXPECT_EQ(uniq.size(), 3u);
  EXPECT_EQ(uniq.count(2), 0u);
}

TEST(Sampling, BeamSampleRunsAndIsSeeded) {
  FakeModel m(ModelFamily::kCausal, 32);
  auto c = sampling(8, 9);
  c.num_beams = 3;
  c.num_return_sequences = 2;
  auto a = generate(m, {{4, 5}}, c);
  auto b = generate(m, {{4, 5}}, c);
  EXPECT_EQ(a.sequences, b.sequences);
  EXPECT_EQ(a.sequences.size(), 2u);
}

}  // namespace
}  // namespace autolm
