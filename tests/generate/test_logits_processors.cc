// Each logits processor / warper against hand-computed values (transformers logits_process.py).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "generate/logits_processors.h"

namespace autolm::gen {
namespace {

const float inf = std::numeric_limits<float>::infinity();

TEST(Processors, RepetitionPenaltyDividesPositiveMultipliesNegativeOnce) {
  std::vector<float> s = {2.0f, -1.0f, 0.5f, 3.0f};
  std::vector<int32_t> ids = {0, 1, 0, 0};  // token 0 three times: penalised once
  repetition_penalty(s, ids, 2.0f);
  EXPECT_FLOAT_EQ(s[0], 1.0f);
  EXPECT_FLOAT_EQ(s[1], -2.0f);
  EXPECT_FLOAT_EQ(s[2], 0.5f);
  EXPECT_FLOAT_EQ(s[3], 3.0f);
}

TEST(Processors, NoRepeatNgramBansContinuations) {
  std::vector<float> s(6, 0.0f);
  // ids: 1 2 3 1 2 → trigram prefix (1,2) was followed by 3 → ban 3
  std::vector<int32_t> ids = {1, 2, 3, 1, 2};
  no_repeat_ngram(s, ids, 3);
  for (int v = 0; v < 6; ++v) EXPECT_EQ(s[v], v == 3 ? -inf : 0.0f) << v;
  // too short for an n-gram: no ban
  std::vector<float> t(6, 0.0f);
  std::vector<int32_t> short_ids = {1};
  no_repeat_ngram(t, short_ids, 3);
  for (float x : t) EXPECT_EQ(x, 0.0f);
  // bigram: last token 2 was followed by 3 → ban 3
  std::vector<float> u(6, 0.0f);
  no_repeat_ngram(u, ids, 2);
  EXPECT_EQ(u[3], -inf);
  EXPECT_EQ(u[1], 0.0f);
  // unigram size 1 bans every seen token
  std::vector<float> w(6, 0.0f);
  no_repeat_ngram(w, ids, 1);
  EXPECT_EQ(w[1], -inf);
  EXPECT_EQ(w[2], -inf);
  EXPECT_EQ(w[3], -inf);
  EXPECT_EQ(w[0], 0.0f);
}

TEST(Processors, EncoderNoRepeatNgram) {
  std::vector<float> s(8, 0.0f);
  std::vector<int32_t> enc = {4, 5, 6, 4, 7};
  std::vector<int32_t> ids = {0, 4};  // prefix (4) followed by 5 and 7 in the encoder input
  encoder_no_repeat_ngram(s, ids, enc, 2);
  EXPECT_EQ(s[5], -inf);
  EXPECT_EQ(s[7], -inf);
  EXPECT_EQ(s[6], 0.0f);
}

TEST(Processors, BadWordsSingleAndSequences) {
  std::vector<std::vector<int64_t>> bad = {{3}, {1, 2}, {5}, {0, 4, 6}};
  auto filtered = filter_bad_words(bad, {5});  // [eos] entries are dropped
  ASSERT_EQ(filtered.size(), 3u);
  std::vector<float> s(8, 1.0f);
  std::vector<int32_t> ids = {7, 1};
  no_bad_words(s, ids, filtered);
  EXPECT_EQ(s[3], -inf);   // always
  EXPECT_EQ(s[2], -inf);   // ids end with [1]
  EXPECT_EQ(s[5], 1.0f);   // eos kept
  EXPECT_EQ(s[6], 1.0f);   // [0,4,6] is longer than... prefix does not match
  std::vector<float> t(8, 1.0f);
  std::vector<int32_t> ids2 = {0, 4};
  no_bad_words(t, ids2, filtered);
  EXPECT_EQ(t[6], 1.0f);  // sequence length 3 > context length 2: ignored (SequenceBias rule)
  std::vector<int32_t> ids3 = {9, 0, 4};
  no_bad_words(t, ids3, filtered);
  EXPECT_EQ(t[6], -inf);
}

TEST(Processors, MinLengthAndMinNewTokens) {
  std::vector<float> s = {1, 2, 3, 4};
  min_length(s, 3, 5, {2, 3});
  EXPECT_EQ(s[2], -inf);
  EXPECT_EQ(s[3], -inf);
  EXPECT_EQ(s[1], 2.0f);
  std::vector<float> t = {1, 2, 3, 4};
  min_length(t, 5, 5, {2});
  EXPECT_EQ(t[2], 3.0f);
  std::vector<float> u = {1, 2, 3, 4};
  min_new_tokens(u, 7, 5, 3, {0});  // 2 new < 3
  EXPECT_EQ(u[0], -inf);
  std::vector<float> w = {1, 2, 3, 4};
  min_new_tokens(w, 8, 5, 3, {0});
  EXPECT_EQ(w[0], 1.0f);
}

TEST(Processors, ForcedBosAndEos) {
  std::vector<float> s = {1, 2, 3, 4};
  forced_bos(s, 1, 2);
  EXPECT_EQ(s, (std::vector<float>{-inf, -inf, 0.0f, -inf}));
  std::vector<float> t = {1, 2, 3, 4};
  forced_bos(t, 2, 2);
  EXPECT_EQ(t, (std::vector<float>{1, 2, 3, 4}));
  std::vector<float> u = {1, 2, 3, 4};
  forced_eos(u, 9, 10, {1, 3});
  EXPECT_EQ(u, (std::vector<float>{-inf, 0.0f, -inf, 0.0f}));
  std::vector<float> w = {1, 2, 3, 4};
  forced_eos(w, 8, 10, {1});
  EXPECT_EQ(w, (std::vector<float>{1, 2, 3, 4}));
}

TEST(Processors, SuppressAndBeginSuppress) {
  std::vector<float> s = {1, 2, 3, 4};
  suppress(s, {0, 3, 99});
  EXPECT_EQ(s, (std::vector<float>{-inf, 2, 3, -inf}));
  std::vector<float> t = {1, 2, 3, 4};
  begin_suppress(t, 4, 5, {1});
  EXPECT_EQ(t[1], 2.0f);
  begin_suppress(t, 5, 5, {1});
  EXPECT_EQ(t[1], -inf);
}

TEST(Processors, Temperature) {
  std::vector<float> s = {1, -2, 4};
  temperature(s, 0.5f);
  EXPECT_EQ(s, (std::vector<float>{2, -4, 8}));
}

TEST(Processors, TopKKeepsTies) {
  std::vector<float> s = {1, 5, 3, 3, 2};
  top_k(s, 2, 1);  // 2nd largest is 3: both 3s stay
  EXPECT_EQ(s, (std::vector<float>{-inf, 5, 3, 3, -inf}));
  std::vector<float> t = {1, 5, 3};
  top_k(t, 1, 2);  // min_tokens_to_keep wins
  EXPECT_EQ(t, (std::vector<float>{-inf, 5, 3}));
  std::vector<float> u = {1, 5, 3};
  top_k(u, 10, 1);  // k > vocab keeps everything
  EXPECT_EQ(u, (std::vector<float>{1, 5, 3}));
}

TEST(Processors, TopP) {
  // probs of log([0.5, 0.3, 0.15, 0.05]): ascending cumsum 0.05, 0.2, 0.5, 1.0
  std::vector<float> s = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  std::vector<float> a = s;
  top_p(a, 0.75f, 1);  // remove cum <= 0.25: tokens 3 and 2
  EXPECT_EQ(a[3], -inf);
  EXPECT_EQ(a[2], -inf);
  EXPECT_EQ(a[1], s[1]);
  EXPECT_EQ(a[0], s[0]);
  std::vector<float> b = s;
  top_p(b, 0.9f, 1);  // remove cum <= 0.1: token 3 only
  EXPECT_EQ(b[3], -inf);
  EXPECT_EQ(b[2], s[2]);
  std::vector<float> c = s;
  top_p(c, 0.01f, 1);  // keeps only the best
  EXPECT_EQ(c[0], s[0]);
  EXPECT_EQ(c[1], -inf);
  std::vector<float> d = s;
  top_p(d, 0.01f, 2);  // min_tokens_to_keep
  EXPECT_EQ(d[1], s[1]);
  EXPECT_EQ(d[2], -inf);
}

TEST(Processors, MinP) {
  std::vector<float> s = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  std::vector<float> a = s;
  min_p(a, 0.4f, 1);  // threshold 0.2: keep 0.5, 0.3
  EXPECT_EQ(a[0], s[0]);
  EXPECT_EQ(a[1], s[1]);
  EXPECT_EQ(a[2], -inf);
  EXPECT_EQ(a[3], -inf);
  std::vector<float> b = s;
  min_p(b, 1.0f, 1);
  EXPECT_EQ(b[0], s[0]);
  EXPECT_EQ(b[1], -inf);
  std::vector<float> c = s;
  min_p(c, 1.0f, 3);
  EXPECT_EQ(c[2], s[2]);
  EXPECT_EQ(c[3], -inf);
}

TEST(Processors, Typical) {
  // p = [0.5, 0.3, 0.15, 0.05]; H = -Σ p log p
  std::vector<float> p = {0.5f, 0.3f, 0.15f, 0.05f};
  std::vector<float> s;
  double H = 0;
  for (float x : p) {
    s.push_back(std::log(x));
    H -= x * std::log(x);
  }
  // |−log p − H|: 0.5→|0.693−1.14|=0.45, 0.3→|1.204−1.14|=0.06, 0.15→0.76, 0.05→1.85
  // order by that: 0.3, 0.5, 0.15, 0.05; cumsum 0.3, 0.8, 0.95, 1.0; mass 0.7 → last_ind = 1
  std::vector<float> a = s;
  typical(a, 0.7f, 1);
  EXPECT_EQ(a[1], s[1]);
  EXPECT_EQ(a[0], s[0]);
  EXPECT_EQ(a[2], -inf);
  EXPECT_EQ(a[3], -inf);
  std::vector<float> b = s;
  typical(b, 0.2f, 1);  // last_ind = 0: keep only 0.3
  EXPECT_EQ(b[1], s[1]);
  EXPECT_EQ(b[0], -inf);
  (void)H;
}

TEST(Processors, LogSoftmax) {
  std::vector<float> s = {1.0f, 2.0f, 3.0f};
  log_softmax(s);
  double z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(s[0], 1.0 - z, 1e-6);
  EXPECT_NEAR(s[2], 3.0 - z, 1e-6);
  std::vector<float> t = {-inf, 0.0f};
  log_softmax(t);
  EXPECT_EQ(t[0], -inf);
  EXPECT_NEAR(t[1], 0.0f, 1e-7);
}

// HF order: repetition penalty, then forced EOS (which overrides everything), then warpers.
TEST(Processors, PipelineOrder) {
  GenerationConfig c;
  c.repetition_penalty = 2.0f;
  c.min_length = 0;
  c.eos_token_id = {3};
  c.forced_eos_token_id = std::vector<int64_t>{3};
  c.do_sample = true;
  c.temperature = 0.5f;
  c.top_k = 2;
  LogitsPipeline p(c, /*input_len=*/2, /*max_length=*/6, /*min_length=*/0);
  std::vector<int32_t> ids = {0, 1, 2};
  std::vector<float> s = {4, 2, -1, 1};
  p.apply(s, RowView{ids, {}}, 3);
  // rep: [2, 1, -2, 1]; temperature: [4, 2, -4, 2]; top-2 of those: 4 and 2 (tie 2 kept)
  EXPECT_EQ(s, (std::vector<float>{4, 2, -inf, 2}));
  std::vector<float> t = {4, 2, -1, 1};
  p.apply(t, RowView{ids, {}}, 5);  // cur_len = max_length - 1 → forced EOS, temperature keeps 0
  EXPECT_EQ(t, (std::vector<float>{-inf, -inf, -inf, 0}));
}

TEST(Processors, BeginSuppressIndexShiftsWithForcedBos) {
  GenerationConfig c;
  c.begin_suppress_tokens = std::vector<int64_t>{2};
  c.forced_bos_token_id = 0;
  LogitsPipeline p(c, /*input_len=*/1, 10, 0);  // seq2seq: begin index 2 because of forced BOS
  std::vector<int32_t> ids = {0, 0};
  std::vector<float> s = {1, 1, 1};
  p.apply(s, RowView{ids, {}}, 2);
  EXPECT_EQ(s[2], -inf);
}

}  // namespace
}  // namespace autolm::gen
