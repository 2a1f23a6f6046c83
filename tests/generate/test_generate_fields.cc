// generate() with the GenerationConfig fields that map to transformers' MaxTimeCriteria and to the
// processors of sequence_bias, encoder_repetition_penalty, exponential_decay_length_penalty and
// remove_invalid_values: how they are wired into the greedy, sampling and beam loops (the
// processor math itself is checked against transformers in test_processor_refs.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "autolm/generation.h"
#include "fake_model.h"
#include "generate/logits_processors.h"

namespace autolm {
namespace {

using test::FakeModel;

GenerationConfig config(int max_new) {
  GenerationConfig c;
  c.eos_token_id = {1};
  c.pad_token_id = 0;
  c.max_new_tokens = max_new;
  return c;
}

// Logits that take at least 2 ms: with max_time = 1 ms the limit has always passed after the first
// step, however fast the machine (sleep_for never returns early), and never before it.
void slow_logits(const std::vector<int32_t>& h, const std::vector<int32_t>& e, std::span<float> out) {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  test::default_logits(h, e, out);
}

TEST(GenerateMaxTime, GreedyStopsAfterFirstStep) {
  FakeModel m(ModelFamily::kCausal, 16, 0, slow_logits);
  GenerationConfig c = config(8);
  c.eos_token_id.clear();  // nothing else can stop a row early
  c.max_time = 0.001;
  auto out = generate(m, {{5, 6, 7}, {9}}, c);
  ASSERT_EQ(out.sequences.size(), 2u);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(out.num_generated[r], 1) << r;
    EXPECT_EQ(out.finish_reasons[r], FinishReason::kTime) << r;
    EXPECT_EQ(out.new_tokens[r].size(), 1u) << r;
  }
  EXPECT_EQ(std::string(finish_reason_name(FinishReason::kTime)), "time");
  // The token it did generate is the greedy one.
  auto l = m.logits_for({5, 6, 7});
  EXPECT_EQ(out.new_tokens[0][0], std::max_element(l.begin(), l.end()) - l.begin());
}

TEST(GenerateMaxTime, SampledRowsStopTogetherAndStreamSeesIt) {
  FakeModel m(ModelFamily::kCausal, 16, 0, slow_logits);
  GenerationConfig c = config(8);
  c.eos_token_id.clear();
  c.do_sample = true;
  c.num_return_sequences = 3;
  c.max_time = 0.001;
  int steps = 0;
  GenerateHooks hooks;
  hooks.on_step = [&](const StreamStep& s) {
    ++steps;
    for (uint8_t f : s.finished) EXPECT_EQ(f, 1);
    return true;
  };
  auto out = generate(m, {{4, 2}}, c, hooks);
  EXPECT_EQ(steps, 1);
  ASSERT_EQ(out.sequences.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(out.num_generated[r], 1);
    EXPECT_EQ(out.finish_reasons[r], FinishReason::kTime);
  }
}

TEST(GenerateMaxTime, BeamSearchStopsAfterFirstStep) {
  FakeModel m(ModelFamily::kCausal, 16, 0, slow_logits);
  GenerationConfig c = config(8);
  c.eos_token_id.clear();
  c.num_beams = 3;
  c.num_return_sequences = 2;
  c.max_time = 0.001;
  auto out = generate(m, {{3, 8}}, c);
  ASSERT_EQ(out.sequences.size(), 2u);
  // Every candidate of the first step hit the criterion: the best two first tokens are returned.
  auto l = m.logits_for({3, 8});
  std::vector<int32_t> order(l.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(out.num_generated[r], 1);
    EXPECT_EQ(out.finish_reasons[r], FinishReason::kTime);
    ASSERT_EQ(out.sequences[r].size(), 3u);
    EXPECT_EQ(out.sequences[r][2], order[r]);
  }
}

TEST(GenerateMaxTime, LengthWinsWhenBothHit) {
  FakeModel m(ModelFamily::kCausal, 16, 0, slow_logits);
  GenerationConfig c = config(1);
  c.eos_token_id.clear();
  c.max_time = 0.001;
  auto out = generate(m, {{5}}, c);
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kLength);
  c.num_beams = 2;
  out = generate(m, {{5}}, c);
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kLength);
}

TEST(GenerateMaxTime, GenerousLimitChangesNothing) {
  FakeModel m(ModelFamily::kCausal);
  for (int beams : {1, 3}) {
    GenerationConfig c = config(12);
    c.num_beams = beams;
    auto plain = generate(m, {{5, 6}, {2, 9, 4}}, c);
    c.max_time = 3600.0;
    auto timed = generate(m, {{5, 6}, {2, 9, 4}}, c);
    EXPECT_EQ(plain.sequences, timed.sequences);
    EXPECT_EQ(plain.finish_reasons, timed.finish_reasons);
    for (auto r : timed.finish_reasons) EXPECT_NE(r, FinishReason::kTime);
  }
}

TEST(GenerateSequenceBias, SteersGreedyWithSingleAndMultiTokenEntries) {
  FakeModel m(ModelFamily::kCausal);
  GenerationConfig c = config(6);
  // +100 on 5 always; +200 on 6 right after a 5: 5 6 5 6 …
  c.update({{"sequence_bias", {{{5}, 100.0}, {{5, 6}, 200.0}}}});
  auto out = generate(m, {{2, 3}, {2, 5}}, c);
  EXPECT_EQ(out.new_tokens[0], (std::vector<int32_t>{5, 6, 5, 6, 5, 6}));
  EXPECT_EQ(out.new_tokens[1], (std::vector<int32_t>{6, 5, 6, 5, 6, 5}));  // the prompt's 5 counts
  c.num_beams = 2;  // beam search sees the same processed scores
  auto beam = generate(m, {{2, 3}}, c);
  EXPECT_EQ(beam.new_tokens[0], (std::vector<int32_t>{5, 6, 5, 6, 5, 6}));
}

TEST(GenerateSequenceBias, TokenOutsideTheVocabularyIsAnError) {
  FakeModel m(ModelFamily::kCausal, 16);
  GenerationConfig c = config(4);
  c.update({{"sequence_bias", {{{3, 99}, 1.0}}}});
  try {
    generate(m, {{2}}, c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("sequence_bias"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("99"), std::string::npos) << e.what();
  }
}

// Constant logits (1.0 everywhere) make each row's processed first-step scores show exactly which
// tokens were penalised.
void flat_logits(const std::vector<int32_t>&, const std::vector<int32_t>&, std::span<float> out) {
  std::fill(out.begin(), out.end(), 1.0f);
}

TEST(GenerateEncoderRepetitionPenalty, ExpandedRowsAsTransformers517) {
  FakeModel m(ModelFamily::kCausal, 8, 0, flat_logits);
  GenerationConfig c = config(1);
  c.do_sample = true;
  c.top_k = 0;
  c.num_return_sequences = 2;
  c.encoder_repetition_penalty = 2.0;
  c.output_scores = true;
  auto out = generate(m, {{3, 4}, {5}}, c);
  ASSERT_EQ(out.scores.size(), 1u);
  const auto& s = out.scores[0];  // rows: input 0 twice, then input 1 twice
  auto at = [&](int row, int tok) { return s[(size_t)row * 8 + tok]; };
  // 5.17 hands the processor the unexpanded prompts: row r gets prompt r, rows ≥ 2 nothing.
  EXPECT_EQ(at(0, 3), 2.0f);
  EXPECT_EQ(at(0, 4), 2.0f);
  EXPECT_EQ(at(0, 5), 1.0f);
  EXPECT_EQ(at(1, 5), 2.0f);
  EXPECT_EQ(at(1, 3), 1.0f);
  for (int row : {2, 3})
    for (int tok = 0; tok < 8; ++tok) EXPECT_EQ(at(row, tok), 1.0f) << row << " " << tok;
  // Greedy, one row per input: each row its own prompt.
  c.do_sample = false;
  c.num_return_sequences = 1;
  out = generate(m, {{3, 4}, {5}}, c);
  EXPECT_EQ(out.scores[0][3], 2.0f);
  EXPECT_EQ(out.scores[0][8 + 5], 2.0f);
  EXPECT_EQ(out.scores[0][8 + 3], 1.0f);
  // Beam search: only beam 0 of the single input.
  c.num_beams = 2;
  out = generate(m, {{3}}, c);
  const float lp = -std::log(8.0f);
  EXPECT_FLOAT_EQ(out.scores[0][3], lp * 0.5f);
  EXPECT_FLOAT_EQ(out.scores[0][8 + 3], lp);
}

// EOS (1) is never likely on its own; a huge decay factor makes it win at the first step past
// start_index, counted from the padded prompt length for every row.
void eos_unlikely(const std::vector<int32_t>& h, const std::vector<int32_t>& e, std::span<float> out) {
  test::default_logits(h, e, out);
  out[1] = -5.0f;
}

TEST(GenerateExponentialDecay, EosAfterStartIndexFromPaddedLength) {
  FakeModel m(ModelFamily::kCausal, 16, 0, eos_unlikely);
  GenerationConfig c = config(10);
  auto plain = generate(m, {{5, 6, 7}, {9}}, c);
  for (auto r : plain.finish_reasons) EXPECT_EQ(r, FinishReason::kLength);
  c.update({{"exponential_decay_length_penalty", {2, 1e6}}});
  auto out = generate(m, {{5, 6, 7}, {9}}, c);
  for (int r = 0; r < 2; ++r) {
    // cur_len > start_index + input_len first when the 4th new token is chosen.
    EXPECT_EQ(out.num_generated[r], 4) << r;
    EXPECT_EQ(out.finish_reasons[r], FinishReason::kEos) << r;
    EXPECT_EQ(out.new_tokens[r][3], 1) << r;
  }
  // Seq2seq: input_len is the decoder start token.
  FakeModel s2s(ModelFamily::kSeq2Seq, 16, 0, eos_unlikely);
  c.decoder_start_token_id = 0;
  auto so = generate(s2s, {{5, 6, 7, 8}}, c);
  EXPECT_EQ(so.num_generated[0], 4);
  EXPECT_EQ(so.finish_reasons[0], FinishReason::kEos);
}

TEST(GenerateExponentialDecay, NanEosAsTransformers517) {
  // min_new_tokens sets EOS to -inf; 5.17's decay then adds +inf: NaN, which torch.argmax picks.
  FakeModel m(ModelFamily::kCausal, 16, 0, eos_unlikely);
  GenerationConfig c = config(10);
  c.min_new_tokens = 6;
  c.update({{"exponential_decay_length_penalty", {0, 2.0}}});
  auto out = generate(m, {{5, 6}}, c);
  EXPECT_EQ(out.num_generated[0], 2);
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kEos);
  c.do_sample = true;  // torch.multinomial raises on NaN: so do we
  try {
    generate(m, {{5, 6}}, c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos) << e.what();
  }
}

void nan_logits(const std::vector<int32_t>&, const std::vector<int32_t>&, std::span<float> out) {
  std::fill(out.begin(), out.end(), -1.0f);
  out[4] = 0.5f;
  out[3] = std::numeric_limits<float>::quiet_NaN();
}

TEST(GenerateRemoveInvalidValues, NanScoresBecomeZero) {
  FakeModel m(ModelFamily::kCausal, 8, 0, nan_logits);
  GenerationConfig c = config(2);
  auto raw = generate(m, {{2}}, c);
  EXPECT_EQ(raw.new_tokens[0], (std::vector<int32_t>{3, 3}));  // torch.argmax ranks NaN first
  c.remove_invalid_values = true;
  auto clean = generate(m, {{2}}, c);
  EXPECT_EQ(clean.new_tokens[0], (std::vector<int32_t>{4, 4}));
}

}  // namespace
}  // namespace autolm
