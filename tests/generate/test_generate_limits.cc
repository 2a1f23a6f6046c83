// Hostile generation settings (issue #11): every integer field is range-checked in its own terms
// (never wrapped to int), lists and counts are bounded, lengths are summed in 64 bits, and a
// request whose memory cannot fit is refused before anything is allocated. Each error names the
// field and the value the user gave.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "fixtures.h"
#include "fake_model.h"
#include "generate/logits_processors.h"
#include "generate/sampling.h"

namespace autolm {
namespace {

using test::FakeModel;

// Runs f, expecting Error(kInvalidInput) whose message holds every string of `parts`.
template <typename F>
void expect_invalid(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << *parts.begin();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " / " << p;
  }
}

GenerationConfig greedy(int max_new) {
  GenerationConfig c;
  c.eos_token_id = {1};
  c.pad_token_id = 0;
  c.max_new_tokens = max_new;
  return c;
}

// Sets an environment variable for one test's scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  const char* name_;
};

TEST(GenerationConfigLimits, IntegerFieldsAreRangeCheckedNotWrapped) {
  using nlohmann::json;
  // 10^12 used to become -727379968, 4294967298 used to become 2.
  for (const char* field : {"max_new_tokens", "max_length", "min_length", "min_new_tokens", "num_beams",
                            "num_return_sequences", "top_k", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size"}) {
    for (const json& v : {json(1000000000000LL), json(4294967298LL), json(-4294967298LL), json(1e30),
                          json(18446744073709551615ULL)}) {
      GenerationConfig c;
      expect_invalid([&] { c.update(json{{field, v}}, "request"); }, {"request", field, v.dump(), "out of range"});
    }
  }
  GenerationConfig c;
  expect_invalid([&] { c.update(json{{"exponential_decay_length_penalty", json::array({1e12, 1.5})}}); },
                 {"exponential_decay_length_penalty", "1000000000000.0"});
  expect_invalid([&] { c.update(json{{"temperature", 1e300}}); }, {"temperature", "1e+300", "float32"});
  expect_invalid([&] { c.update(json{{"sequence_bias", json::array({json::array({json::array({5}), 1e300})})}}); },
                 {"sequence_bias", "float32"});
  expect_invalid([&] { c.update(json{{"seed", -1}}); }, {"seed", "-1"});
  expect_invalid([&] { c.update(json{{"max_new_tokens", std::nan("")}}); }, {"max_new_tokens"});
  c.update(json{{"seed", 18446744073709551615ULL}, {"max_new_tokens", 2147483647}});
  EXPECT_EQ(c.seed, 18446744073709551615ULL);
  EXPECT_EQ(*c.max_new_tokens, 2147483647);
}

TEST(GenerationConfigLimits, CountsListsAndIdsAreBounded) {
  auto validate_with = [](auto&& set) {
    GenerationConfig c;
    set(c);
    c.validate();
  };
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.num_beams = 1000000; }); }, {"num_beams", "1000000"});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.do_sample = true; c.num_return_sequences = 1000000; }); },
                 {"num_return_sequences", "1000000"});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.eos_token_id = {4294967298LL}; }); },
                 {"eos_token_id", "4294967298"});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.suppress_tokens = std::vector<int64_t>{1LL << 40}; }); },
                 {"suppress_tokens", "1099511627776"});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.forced_bos_token_id = 1LL << 33; }); },
                 {"forced_bos_token_id", "8589934592"});
  const size_t too_many = GenerationLimits::kMaxListTokens + 1;
  expect_invalid([&] { validate_with([&](GenerationConfig& c) { c.bad_words_ids = {std::vector<int64_t>(too_many, 3)}; }); },
                 {"bad_words_ids", std::to_string(too_many)});
  expect_invalid(
      [&] {
        validate_with([&](GenerationConfig& c) {
          c.sequence_bias = GenerationConfig::SequenceBias{{std::vector<int64_t>(too_many, 3), 1.0f}};
        });
      },
      {"sequence_bias", std::to_string(too_many)});
  expect_invalid([&] { validate_with([&](GenerationConfig& c) { c.eos_token_id.assign(too_many, 1); }); },
                 {"eos_token_id", std::to_string(too_many)});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.stop_strings.assign(2000, "x"); }); },
                 {"stop_strings", "2000"});
  expect_invalid([&] { validate_with([](GenerationConfig& c) { c.stop_strings = {std::string(100000, 'x')}; }); },
                 {"stop_strings", "100000 bytes"});
}

// A hostile generation_config.json: values out of range, deep nesting, a link out of the folder,
// a FIFO. Each is an error naming the file (and the field), never a wrap, a crash or a hang.
TEST(GenerationConfigLimits, HostileGenerationConfigFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / ("autolm-hostile-gencfg-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = (dir / "generation_config.json").string();
  auto write = [&](const std::string& text) {
    fs::remove(file);
    std::ofstream(file) << text;
  };
  write(R"({"max_new_tokens": 1000000000000})");
  expect_invalid([&] { GenerationConfig::from_pretrained(dir.string()); }, {file, "max_new_tokens", "1000000000000"});
  write(R"({"top_k": 4294967298})");
  expect_invalid([&] { GenerationConfig::from_pretrained(dir.string()); }, {file, "top_k", "4294967298"});
  write(std::string(100000, '[') + std::string(100000, ']'));
  expect_invalid([&] { GenerationConfig::from_pretrained(dir.string()); }, {file, "nested deeper"});
  fs::remove(file);
  fs::create_symlink("/etc/passwd", file);
  expect_invalid([&] { GenerationConfig::from_pretrained(dir.string()); }, {"generation_config.json", "outside"});
  fs::remove(file);
  ASSERT_EQ(::mkfifo(file.c_str(), 0600), 0);
  expect_invalid([&] { GenerationConfig::from_pretrained(dir.string()); }, {file});
  fs::remove_all(dir);
}

// prompt + max_new_tokens is summed in 64 bits: 2147483647 new tokens no longer overflows int.
TEST(GenerateLimits, LengthSumsDoNotOverflow) {
  FakeModel m(ModelFamily::kCausal, 16);
  expect_invalid([&] { generate(m, {{4, 5, 6}}, greedy(2147483647)); },
                 {"max_new_tokens=2147483647", "2147483650", "2147483647 tokens"});
  FakeModel s2s(ModelFamily::kSeq2Seq, 16);
  GenerationConfig c = greedy(2147483647);
  c.decoder_start_token_id = 0;
  expect_invalid([&] { generate(s2s, {{4, 5, 6}}, c); }, {"max_new_tokens=2147483647"});
  EXPECT_EQ(m.states + s2s.states, 0);  // refused before any state was made
  // A model with learned positions names the field and the value.
  FakeModel small(ModelFamily::kCausal, 16, 64);
  expect_invalid([&] { generate(small, {{4, 5, 6}}, greedy(1000000)); }, {"max_new_tokens=1000000", "64 positions"});
  // min_new_tokens + prompt and start_index + prompt must not wrap either: these just run.
  GenerationConfig big = greedy(6);
  big.min_new_tokens = 2147483647;
  big.exponential_decay_length_penalty = std::make_pair(2147483647, 1.5);
  EXPECT_EQ(generate(m, {{4, 5, 6}}, big).new_tokens[0].size(), 6u);  // EOS never allowed: runs to the end
  big.min_new_tokens.reset();
  big.exponential_decay_length_penalty = std::make_pair(-2147483647 - 1, 1.01);
  EXPECT_NO_THROW(generate(m, {{4, 5, 6}}, big));
}

// The memory a request implies is estimated before anything is allocated, naming the knobs.
TEST(GenerateLimits, MemoryIsEstimatedBeforeAllocating) {
  FakeModel m(ModelFamily::kCausal, 16);
  m.kv_bytes = 1 << 20;  // a 1 MiB-per-token KV cache
  GenerationConfig c = greedy(100000000);
  expect_invalid([&] { generate(m, {{4, 5}}, c); }, {"max_new_tokens=100000000", "MiB", "KV cache"});
  c.max_new_tokens = 1000;
  c.num_beams = 1024;
  expect_invalid([&] { generate(m, {{4, 5}}, c); }, {"num_beams=1024", "MiB"});
  EXPECT_EQ(m.states, 0);

  // output_scores keeps rows × vocab floats per step.
  FakeModel wide(ModelFamily::kCausal, 50000);
  GenerationConfig s;
  s.do_sample = true;
  s.num_return_sequences = 1000;
  s.max_new_tokens = 100000;
  s.output_scores = true;
  expect_invalid([&] { generate(wide, {{4, 5}}, s); }, {"num_return_sequences=1000", "output_scores", "scores"});
  EXPECT_EQ(wide.states, 0);

  // The limit can be set (and a bad setting is named).
  {
    ScopedEnv env("AUTOLM_MAX_GENERATE_BYTES", "100000");
    GenerationConfig b = greedy(4);
    b.num_beams = 8;
    expect_invalid([&] { generate(wide, {{4, 5}}, b); }, {"num_beams=8", "AUTOLM_MAX_GENERATE_BYTES"});
    FakeModel tiny(ModelFamily::kCausal, 16);
    EXPECT_NO_THROW(generate(tiny, {{4, 5}}, greedy(4)));  // vocab 16, no KV: a few hundred bytes
  }
  {
    ScopedEnv env("AUTOLM_MAX_GENERATE_BYTES", "-5");
    expect_invalid([&] { generate(m, {{4, 5}}, greedy(4)); }, {"AUTOLM_MAX_GENERATE_BYTES", "-5"});
  }
}

// The real models report their KV cache cost per token, so the estimate sees it.
TEST(GenerateLimits, ModelsReportKvBytesPerToken) {
  // K and V, float32, every layer: GPT-2 n_layer × n_embd; Llama layers × KV heads × head_dim.
  auto gpt2 = load_model(test::model_dir("gpt2-tiny"));
  const auto& g = gpt2->config().raw;
  EXPECT_EQ(gpt2->kv_bytes_per_token(), 2 * g["n_layer"].get<int64_t>() * g["n_embd"].get<int64_t>() * 4);
  auto llama_model = load_model(test::model_dir("llama-tiny"));
  const auto& l = llama_model->config().raw;
  EXPECT_EQ(llama_model->kv_bytes_per_token(), 2 * l["num_hidden_layers"].get<int64_t>() *
                                                   l["num_key_value_heads"].get<int64_t>() * l["head_dim"].get<int64_t>() * 4);
  for (const std::string& name : test::seq2seq_models())
    EXPECT_GT(load_model(test::model_dir(name))->kv_bytes_per_token(), 0) << name;
  // A request too large for memory is refused by the estimate, naming what to lower.
  auto llama = load_model(test::model_dir("llama-tiny"));
  GenerationConfig c = GenerationConfig::for_model(*llama);
  c.num_beams = 1024;
  c.max_new_tokens = 2000000000;
  expect_invalid([&] { generate(*llama, {{1, 2}}, c); }, {"max_new_tokens=2000000000"});
}

// Ids generate() feeds the model itself (padding, the decoder start) must index its vocabulary.
TEST(GenerateLimits, PadAndStartTokensMustBeInTheVocabulary) {
  FakeModel m(ModelFamily::kCausal, 16);
  GenerationConfig c = greedy(3);
  c.pad_token_id = 1000;
  expect_invalid([&] { generate(m, {{4, 5, 6}, {7}}, c); }, {"pad_token_id=1000", "vocabulary"});
  EXPECT_NO_THROW(generate(m, {{4, 5, 6}}, c));  // one row: padding is never fed to the model
  c.pad_token_id = 1LL << 40;
  expect_invalid([&] { generate(m, {{4, 5, 6}}, c); }, {"pad_token_id=1099511627776"});
  c.pad_token_id = -1;  // as some configs have: fine while unused
  EXPECT_NO_THROW(generate(m, {{4, 5, 6}}, c));
  expect_invalid([&] { generate(m, {{4, 5, 6}, {7}}, c); }, {"pad_token_id=-1"});
  // Pre-padded input: the ids at masked positions are embedded too.
  expect_invalid([&] { generate(m, {{99, 4, 5}}, {{0, 1, 1}}, greedy(3)); }, {"99", "padding position"});

  FakeModel s2s(ModelFamily::kSeq2Seq, 16);
  GenerationConfig d = greedy(3);
  d.decoder_start_token_id = 1LL << 33;
  expect_invalid([&] { generate(s2s, {{4, 5}}, d); }, {"decoder_start_token_id=8589934592"});
  d.decoder_start_token_id.reset();
  d.bos_token_id = 16;
  expect_invalid([&] { generate(s2s, {{4, 5}}, d); }, {"bos_token_id=16"});
}

// Settings that mask the whole vocabulary are the user's doing: an input error, not an internal one.
TEST(GenerateLimits, SamplingWithEveryTokenBannedIsAnInputError) {
  FakeModel m(ModelFamily::kCausal, 16);
  GenerationConfig c = greedy(3);
  c.do_sample = true;
  c.suppress_tokens = std::vector<int64_t>{};
  for (int64_t t = 0; t < 16; ++t) c.suppress_tokens->push_back(t);
  expect_invalid([&] { generate(m, {{4, 5}}, c); }, {"suppress_tokens", "probability 0"});
}

// no_repeat_ngram finds earlier occurrences in linear time: same bans as the direct definition,
// and a repetitive prompt with a large n no longer costs len × n per step.
TEST(GenerateLimits, NoRepeatNgramIsLinearAndExact) {
  uint64_t seed = 42;
  for (int trial = 0; trial < 300; ++trial) {
    seed = test::splitmix(seed);
    const int len = 1 + int(seed % 40), n = 1 + int((seed >> 8) % 6), vocab = 2 + int((seed >> 16) % 4);
    std::vector<int32_t> ids(len), enc(1 + (seed >> 24) % 30);
    for (auto& t : ids) t = int32_t((seed = test::splitmix(seed)) % vocab);
    for (auto& t : enc) t = int32_t((seed = test::splitmix(seed)) % vocab);
    // transformers' definition: every n-gram whose first n-1 tokens are ids' last n-1 tokens.
    auto reference = [&](std::span<const int32_t> source) {
      std::vector<float> want(vocab, 0.0f);
      if (ids.size() + 1 < size_t(n)) return want;
      std::span<const int32_t> prefix = std::span<const int32_t>(ids).subspan(ids.size() + 1 - n, n - 1);
      for (size_t i = 0; i + n <= source.size(); ++i)
        if (std::equal(prefix.begin(), prefix.end(), source.begin() + i)) want[source[i + n - 1]] = gen::kNegInf;
      return want;
    };
    std::vector<float> got(vocab, 0.0f);
    gen::no_repeat_ngram(got, ids, n);
    EXPECT_EQ(got, reference(ids)) << "trial " << trial;
    std::vector<float> got_enc(vocab, 0.0f);
    gen::encoder_no_repeat_ngram(got_enc, ids, enc, n);
    EXPECT_EQ(got_enc, reference(enc)) << "trial " << trial;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> same(200000, 7);
  std::vector<float> scores(16, 0.0f);
  for (int step = 0; step < 20; ++step) gen::no_repeat_ngram(scores, same, 100000);
  EXPECT_EQ(scores[7], gen::kNegInf);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

// Long lists cost linear time per step, not quadratic (sequence_bias used a linear search per
// entry); beam sampling draws its candidates in O(log n) each.
TEST(GenerateLimits, LargeListsAndBeamsStayFast) {
  const auto t0 = std::chrono::steady_clock::now();
  FakeModel m(ModelFamily::kCausal, 64);
  GenerationConfig c = greedy(3);
  GenerationConfig::SequenceBias bias;
  for (int i = 0; i < 200000; ++i) bias.push_back({{2 + i % 60, 2 + (i / 60) % 60, 2 + i / 3600}, 0.5f});
  c.sequence_bias = bias;
  EXPECT_EQ(gen::prepare_sequence_bias(bias).size(), 200000u);
  EXPECT_NO_THROW(generate(m, {{4, 5}}, c));

  FakeModel wide(ModelFamily::kCausal, 4096);
  GenerationConfig b = greedy(3);
  b.do_sample = true;
  b.num_beams = 256;
  b.top_k = 0;
  EXPECT_NO_THROW(generate(wide, {{4, 5}}, b));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);

  // Without replacement: every draw distinct, zero-probability entries only after the others.
  gen::Sampler s(7);
  std::vector<float> scores(1000, gen::kNegInf);
  scores[3] = 0.0f;
  scores[500] = 1.0f;
  scores[999] = 2.0f;
  auto picks = s.sample_without_replacement(scores, 5);
  ASSERT_EQ(picks.size(), 5u);
  std::vector<int32_t> first(picks.begin(), picks.begin() + 3);
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, (std::vector<int32_t>{3, 500, 999}));
  EXPECT_EQ(picks[3], 0);
  EXPECT_EQ(picks[4], 1);
}

// Beam sequences grow with the search: a huge max_new_tokens allocates nothing up front and gives
// the same result as a small one when every beam ends on EOS first.
TEST(GenerateLimits, BeamSearchDoesNotPreallocateMaxLength) {
  FakeModel m(ModelFamily::kCausal, 16);
  GenerationConfig c = greedy(30);
  c.num_beams = 4;
  c.num_return_sequences = 2;
  GenerateOutput small = generate(m, {{4, 5}, {6}}, c);
  ASSERT_LT(small.sequences[0].size(), 2u + 30u);
  c.max_new_tokens = 1000000;
  GenerateOutput huge = generate(m, {{4, 5}, {6}}, c);
  EXPECT_EQ(huge.sequences, small.sequences);
  EXPECT_EQ(huge.sequences_scores, small.sequences_scores);
}

}  // namespace
}  // namespace autolm
