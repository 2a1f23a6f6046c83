// generate() on a fake model: greedy against a cache-free reference loop, batching and padding,
// seq2seq, lengths, streaming, stop strings and beam search against exhaustive search.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "autolm/generation.h"
#include "fake_model.h"
#include "generate/logits_processors.h"

namespace autolm {
namespace {

using test::FakeModel;

GenerationConfig base(int max_new = 12) {
  GenerationConfig c;
  c.eos_token_id = {1};
  c.pad_token_id = 0;
  c.max_new_tokens = max_new;
  return c;
}

// Greedy without caching or batching: the definition of what one row must produce.
std::vector<int32_t> reference_greedy(const FakeModel& m, std::vector<int32_t> seq, int max_new,
                                      const std::vector<int32_t>& enc = {}) {
  for (int i = 0; i < max_new; ++i) {
    auto l = m.logits_for(seq, enc);
    int32_t t = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
    seq.push_back(t);
    if (t == 1) break;
  }
  return seq;
}

TEST(Greedy, MatchesReferenceLoopAndCausalLayout) {
  FakeModel m(ModelFamily::kCausal);
  std::vector<int32_t> prompt = {5, 6, 7};
  auto out = generate(m, {prompt}, base(12));
  auto ref = reference_greedy(m, prompt, 12);
  ASSERT_EQ(out.sequences.size(), 1u);
  EXPECT_EQ(out.sequences[0], ref);
  EXPECT_EQ(out.new_tokens[0], std::vector<int32_t>(ref.begin() + 3, ref.end()));
  EXPECT_EQ(out.prompt_length, 3);
  EXPECT_EQ(out.num_generated[0], (int)ref.size() - 3);
  EXPECT_EQ(out.finish_reasons[0], ref.back() == 1 ? FinishReason::kEos : FinishReason::kLength);
  EXPECT_TRUE(out.sequences_scores.empty());
}

TEST(Greedy, BatchRowsEqualSingleRowsAndPadAfterEos) {
  FakeModel m(ModelFamily::kCausal);
  std::vector<std::vector<int32_t>> prompts = {{5}, {3, 9, 4, 2, 8}, {7, 7, 2}, {11, 12}};
  auto cfg = base(15);
  auto batch = generate(m, prompts, cfg);
  size_t width = 0;
  bool some_early = false;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto single = generate(m, {prompts[i]}, cfg);
    const auto& row = batch.new_tokens[i];
    width = row.size();
    const auto& alone = single.new_tokens[0];
    ASSERT_LE(alone.size(), row.size());
    EXPECT_TRUE(std::equal(alone.begin(), alone.end(), row.begin())) << "row " << i;
    for (size_t j = alone.size(); j < row.size(); ++j) EXPECT_EQ(row[j], 0) << "padding after EOS, row " << i;
    if (alone.size() < row.size()) some_early = true;
    // left padding with pad_token_id
    EXPECT_EQ(batch.sequences[i].size(), 5 + row.size());
    for (size_t j = 0; j < 5 - prompts[i].size(); ++j) EXPECT_EQ(batch.sequences[i][j], 0);
  }
  EXPECT_GT(width, 0u);
  (void)some_early;
}

TEST(Greedy, PrePaddedInputEqualsPromptList) {
  FakeModel m(ModelFamily::kCausal);
  auto cfg = base(10);
  auto a = generate(m, {{4, 5}, {6, 7, 8}}, cfg);
  auto b = generate(m, {{0, 4, 5}, {6, 7, 8}}, {{0, 1, 1}, {1, 1, 1}}, cfg);
  EXPECT_EQ(a.sequences, b.sequences);
  // right padding is refused for causal models
  EXPECT_THROW(generate(m, {{4, 5, 0}}, {{1, 1, 0}}, cfg), Error);
}

TEST(Greedy, PadFallsBackToEos) {
  FakeModel m(ModelFamily::kCausal);
  GenerationConfig cfg;
  cfg.eos_token_id = {1};
  cfg.max_new_tokens = 15;
  auto out = generate(m, {{5}, {3, 9, 4}}, cfg);
  // prompt 0 is left-padded with eos (1)
  EXPECT_EQ(out.sequences[0][0], 1);
  EXPECT_EQ(out.sequences[0][1], 1);
}

TEST(Greedy, EmptyPromptIsAnError) {
  FakeModel m(ModelFamily::kCausal);
  EXPECT_THROW(generate(m, {{}}, base()), Error);
  EXPECT_THROW(generate(m, {}, base()), Error);
}

TEST(Lengths, DefaultIsTwentyNewTokensAndMaxLengthCountsPrompt) {
  auto never_eos = [](const std::vector<int32_t>& h, const std::vector<int32_t>&, std::span<float> o) {
    for (size_t v = 0; v < o.size(); ++v) o[v] = v == (h.size() % 3) + 2 ? 1.0f : 0.0f;
  };
  FakeModel m(ModelFamily::kCausal, 8, 0, never_eos);
  GenerationConfig c;
  c.eos_token_id = {1};
  auto out = generate(m, {{2, 3, 4}}, c);
  EXPECT_EQ(out.new_tokens[0].size(), 20u);
  c.max_length = 10;
  out = generate(m, {{2, 3, 4}}, c);
  EXPECT_EQ(out.sequences[0].size(), 10u);
  c.max_new_tokens = 4;  // wins over max_length
  out = generate(m, {{2, 3, 4}}, c);
  EXPECT_EQ(out.new_tokens[0].size(), 4u);
  GenerationConfig too_short;
  too_short.max_length = 3;
  EXPECT_THROW(generate(m, {{2, 3, 4}}, too_short), Error);
  // seq2seq: max_length counts decoder tokens including decoder_start
  FakeModel s(ModelFamily::kSeq2Seq, 8, 0, never_eos);
  GenerationConfig sc;
  sc.decoder_start_token_id = 0;
  sc.eos_token_id = {1};
  sc.max_length = 6;
  out = generate(s, {{2, 3, 4, 5, 6, 7, 2}}, sc);
  EXPECT_EQ(out.sequences[0].size(), 6u);
  EXPECT_EQ(out.sequences[0][0], 0);
  sc.max_length.reset();
  out = generate(s, {{2, 3}}, sc);
  EXPECT_EQ(out.sequences[0].size(), 21u);  // default: 20 new tokens after the start token
}

TEST(Lengths, MaxPositionsIsAClearError) {
  FakeModel m(ModelFamily::kCausal, 16, /*max_positions=*/16);
  auto cfg = base(10);
  EXPECT_NO_THROW(generate(m, {{2, 3, 4, 5, 6, 7}}, cfg));
  try {
    generate(m, {{2, 3, 4, 5, 6, 7, 8}}, cfg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(std::string(e.what()).find("16"), std::string::npos) << e.what();
  }
  FakeModel s(ModelFamily::kSeq2Seq, 16, 8);
  GenerationConfig sc = base(5);
  sc.decoder_start_token_id = 0;
  EXPECT_THROW(generate(s, {{2, 3, 4, 5, 6, 7, 8, 9, 10}}, sc), Error);
}

TEST(Lengths, MinNewTokensBansEos) {
  auto eos_first = [](const std::vector<int32_t>& h, const std::vector<int32_t>&, std::span<float> o) {
    for (size_t v = 0; v < o.size(); ++v) o[v] = static_cast<float>(v % 5) * 0.1f;
    o[1] = 5.0f;  // EOS always best
  };
  FakeModel m(ModelFamily::kCausal, 8, 0, eos_first);
  auto cfg = base(12);
  EXPECT_EQ(generate(m, {{3}}, cfg).new_tokens[0], (std::vector<int32_t>{1}));
  cfg.min_new_tokens = 4;
  auto out = generate(m, {{3}}, cfg);
  ASSERT_EQ(out.new_tokens[0].size(), 5u);
  EXPECT_EQ(out.new_tokens[0][4], 1);
  cfg.min_new_tokens.reset();
  cfg.min_length = 3;  // counts the prompt (1) for causal models
  out = generate(m, {{3}}, cfg);
  EXPECT_EQ(out.new_tokens[0].size(), 3u);
}

TEST(Seq2Seq, StartTokenSharedEncoderAndBatchEqualsSingles) {
  FakeModel m(ModelFamily::kSeq2Seq);
  GenerationConfig cfg = base(10);
  cfg.decoder_start_token_id = 2;
  std::vector<std::vector<int32_t>> inputs = {{5, 6, 7, 1}, {9, 1}, {3, 3, 3, 3, 3, 1}};
  auto batch = generate(m, inputs, cfg);
  EXPECT_EQ(m.encodes, 1);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto ref = reference_greedy(m, {2}, 10, inputs[i]);
    const auto& row = batch.sequences[i];
    EXPECT_EQ(row[0], 2);
    EXPECT_TRUE(std::equal(ref.begin(), ref.end(), row.begin())) << i;
    for (size_t j = ref.size(); j < row.size(); ++j) EXPECT_EQ(row[j], 0);
    EXPECT_EQ(batch.new_tokens[i], row);  // seq2seq new_tokens include the start token
  }
  GenerationConfig no_start = base(3);
  EXPECT_THROW(generate(m, inputs, no_start), Error);
  no_start.bos_token_id = 4;  // bos is the fallback start
  EXPECT_EQ(generate(m, inputs, no_start).sequences[0][0], 4);
}

TEST(Streaming, CallbackSeesEveryStepAndCanStop) {
  FakeModel m(ModelFamily::kCausal);
  auto cfg = base(12);
  std::vector<std::vector<int32_t>> prompts = {{5}, {3, 9, 4}};
  auto full = generate(m, prompts, cfg);
  std::vector<std::vector<int32_t>> streamed(2);
  GenerateHooks hooks;
  int steps = 0;
  hooks.on_step = [&](const StreamStep& s) {
    EXPECT_EQ(s.step, steps);
    ++steps;
    for (int r = 0; r < 2; ++r)
      if (s.was_active[r]) streamed[r].push_back(s.tokens[r]);
    return true;
  };
  auto out = generate(m, prompts, cfg, hooks);
  EXPECT_EQ(out.sequences, full.sequences);
  for (int r = 0; r < 2; ++r) {
    std::vector<int32_t> expect(full.new_tokens[r].begin(), full.new_tokens[r].begin() + full.num_generated[r]);
    EXPECT_EQ(streamed[r], expect);
  }
  // stop after 3 steps
  hooks.on_step = [&](const StreamStep& s) { return s.step < 2; };
  auto cut = generate(m, {{5, 6, 7, 8}}, base(12), hooks);
  auto whole = generate(m, {{5, 6, 7, 8}}, base(12));
  if (whole.num_generated[0] > 3) {
    EXPECT_EQ(cut.new_tokens[0].size(), 3u);
    EXPECT_EQ(cut.finish_reasons[0], FinishReason::kCallback);
  }
  // beam search refuses a stream callback, as transformers
  auto beam = base(5);
  beam.num_beams = 2;
  EXPECT_THROW(generate(m, prompts, beam, hooks), Error);
}

TEST(Stopping, StopStringAcrossTokenBoundaries) {
  // token v decodes to the letter 'a' + v; the model walks 2,3,4,5,… ("cdef…")
  auto walk = [](const std::vector<int32_t>& h, const std::vector<int32_t>&, std::span<float> o) {
    std::fill(o.begin(), o.end(), 0.0f);
    o[(h.back() + 1) % o.size()] = 3.0f;
  };
  FakeModel m(ModelFamily::kCausal, 16, 0, walk);
  GenerateHooks hooks;
  hooks.decode = [](std::span<const int32_t> ids) {
    std::string s;
    for (int32_t t : ids) s.push_back(static_cast<char>('a' + t));
    return s;
  };
  auto cfg = base(10);
  cfg.stop_strings = {"fg"};
  auto out = generate(m, {{2}}, cfg, hooks);  // c → d e f g: stops after g
  EXPECT_EQ(out.new_tokens[0], (std::vector<int32_t>{3, 4, 5, 6}));
  EXPECT_EQ(out.finish_reasons[0], FinishReason::kStopString);
  cfg.stop_strings = {"cd"};  // spans the prompt and the first new token
  out = generate(m, {{2}}, cfg, hooks);
  EXPECT_EQ(out.new_tokens[0], (std::vector<int32_t>{3}));
  GenerateHooks no_decode;
  EXPECT_THROW(generate(m, {{2}}, cfg, no_decode), Error);
}

// Exhaustive search over a tiny vocabulary: with num_beams ≥ every hypothesis, beam search must
// return the best-scoring finished sequences (score = Σ log p / generated_len ** length_penalty).
struct Hyp {
  std::vector<int32_t> seq;
  float score;
};

void enumerate(const FakeModel& m, std::vector<int32_t> seq, float sum, int depth, int max_new, int prompt_len,
               float lp, std::vector<Hyp>& out) {
  auto l = m.logits_for(seq);
  gen::log_softmax(l);
  for (int v = 0; v < (int)l.size(); ++v) {
    auto s = seq;
    s.push_back(v);
    float total = sum + l[v];
    int gen_len = static_cast<int>(s.size()) - prompt_len;
    if (v == 1 || depth + 1 == max_new)
      out.push_back({s, total / static_cast<float>(std::pow((double)gen_len, (double)lp))});
    else
      enumerate(m, s, total, depth + 1, max_new, prompt_len, lp, out);
  }
}

TEST(BeamSearch, ExhaustiveWhenBeamsCoverEverything) {
  FakeModel m(ModelFamily::kCausal, 4);
  for (float lp : {1.0f, 0.0f, 2.0f}) {
    std::vector<int32_t> prompt = {2, 3};
    std::vector<Hyp> all;
    enumerate(m, prompt, 0.0f, 0, 3, 2, lp, all);
    std::stable_sort(all.begin(), all.end(), [](const Hyp& a, const Hyp& b) { return a.score > b.score; });
    GenerationConfig cfg = base(3);
    cfg.num_beams = 64;
    cfg.num_return_sequences = 3;
    cfg.length_penalty = lp;
    cfg.early_stopping = EarlyStopping::kNever;
    auto out = generate(m, {prompt}, cfg);
    ASSERT_EQ(out.sequences.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      std::vector<int32_t> got(out.sequences[i].begin(), out.sequences[i].begin() + 2 + out.num_generated[i]);
      EXPECT_EQ(got, all[i].seq) << "lp " << lp << " rank " << i;
      EXPECT_NEAR(out.sequences_scores[i], all[i].score, 1e-5) << "lp " << lp << " rank " << i;
      for (size_t j = got.size(); j < out.sequences[i].size(); ++j) EXPECT_EQ(out.sequences[i][j], 1) << "fill";
    }
  }
}

TEST(BeamSearch, BatchEqualsSinglesAndReorders) {
  FakeModel m(ModelFamily::kCausal);
  GenerationConfig cfg = base(8);
  cfg.num_beams = 3;
  cfg.num_return_sequences = 2;
  std::vector<std::vector<int32_t>> prompts = {{5, 6}, {7}, {8, 9, 10}};
  auto batch = generate(m, prompts, cfg);
  ASSERT_EQ(batch.sequences.size(), 6u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto single = generate(m, {prompts[i]}, cfg);
    for (int k = 0; k < 2; ++k) {
      EXPECT_NEAR(single.sequences_scores[k], batch.sequences_scores[i * 2 + k], 1e-6);
      const int n = single.num_generated[k];
      EXPECT_EQ(n, batch.num_generated[i * 2 + k]);
      std::vector<int32_t> a(single.new_tokens[k].begin(), single.new_tokens[k].begin() + n);
      std::vector<int32_t> b(batch.new_tokens[i * 2 + k].begin(), batch.new_tokens[i * 2 + k].begin() + n);
      EXPECT_EQ(a, b);
    }
    EXPECT_GE(single.sequences_scores[0], single.sequences_scores[1]);
  }
}

TEST(BeamSearch, Seq2SeqSharesEncoderAcrossBeams) {
  FakeModel m(ModelFamily::kSeq2Seq);
  GenerationConfig cfg = base(6);
  cfg.decoder_start_token_id = 0;
  cfg.num_beams = 4;
  cfg.early_stopping = EarlyStopping::kTrue;
  auto out = generate(m, {{4, 5, 6}, {7, 8}}, cfg);
  EXPECT_EQ(m.encodes, 1);
  ASSERT_EQ(out.sequences.size(), 2u);
  for (const auto& s : out.sequences) EXPECT_EQ(s[0], 0);
  auto one = generate(m, {{7, 8}}, cfg);
  EXPECT_NEAR(one.sequences_scores[0], out.sequences_scores[1], 1e-6);
}

TEST(BeamSearch, OutputScoresShape) {
  FakeModel m(ModelFamily::kCausal);
  GenerationConfig cfg = base(4);
  cfg.num_beams = 2;
  cfg.output_scores = true;
  auto out = generate(m, {{5}}, cfg);
  ASSERT_FALSE(out.scores.empty());
  EXPECT_EQ(out.scores[0].size(), 2u * 16u);
  GenerationConfig g = base(4);
  g.output_scores = true;
  auto o2 = generate(m, {{5}, {6}}, g);
  EXPECT_EQ(o2.scores.size(), (size_t)o2.new_tokens[0].size());
  EXPECT_EQ(o2.scores[0].size(), 2u * 16u);
}

}  // namespace
}  // namespace autolm
