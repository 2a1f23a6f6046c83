// Hostile model folders and inputs: every config.json value that sizes, divides or indexes
// something, sequence lengths against the model's positions, memory implied by the config, a
// config.json that is not a regular file, and exceptions inside the thread pool. Each case is an
// autolm::Error naming the file, the key and the value — never a crash, a hang or garbage.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "autolm/auto.h"
#include "core/memory.h"
#include "core/thread_pool.h"
#include "fixtures.h"
#include "io/limits.h"
#include "models/scratch_folder.h"
#include "nn/attention.h"

namespace autolm {
namespace {

using test::edit_config;
using test::expect_error;
using test::ScratchFolder;

// One hostile config.json value: loading `fixture` with `key` set to `value` must fail with
// kInvalidInput naming config.json, the key and (as written) the value.
struct BadValue {
  std::string fixture, key;
  json value;
  std::vector<std::string> fragments;  // beyond config.json and the key
};

void expect_config_error(const BadValue& b, ErrorKind kind = ErrorKind::kInvalidInput) {
  SCOPED_TRACE(b.fixture + ": " + b.key + " = " + b.value.dump());
  ScratchFolder f(b.fixture);
  edit_config(f, [&](json& c) {
    // "a.b" edits a nested key (rope_parameters.factor).
    json* target = &c;
    std::string key = b.key;
    for (size_t dot; (dot = key.find('.')) != std::string::npos; key = key.substr(dot + 1)) target = &(*target)[key.substr(0, dot)];
    (*target)[key] = b.value;
  });
  std::vector<std::string> fragments = {"config.json", b.key.substr(b.key.rfind('.') + 1)};
  fragments.insert(fragments.end(), b.fragments.begin(), b.fragments.end());
  expect_error(f.path(), kind, fragments);
}

// ---- sizes: positive, in range, divisible, in every architecture

TEST(HostileConfig, SizesMustBePositive) {
  const std::vector<BadValue> cases = {
      {"llama-tiny", "num_attention_heads", 0, {"(0)"}},  // was SIGFPE
      {"llama-tiny", "hidden_size", -64, {"-64"}},
      {"llama-tiny", "hidden_size", 0, {"(0)"}},
      {"llama-tiny", "intermediate_size", -1, {"-1"}},
      {"llama-tiny", "num_key_value_heads", 0, {"(0)"}},
      {"llama-tiny", "head_dim", 0, {"(0)"}},
      {"llama-tiny", "head_dim", -16, {"-16"}},
      {"llama-tiny", "vocab_size", 0, {"(0)"}},
      {"llama-tiny", "vocab_size", -5, {"-5"}},
      {"llama-tiny", "num_hidden_layers", 0, {"(0)"}},
      {"llama-tiny", "num_hidden_layers", -2, {"-2"}},
      {"llama-tiny", "max_position_embeddings", 0, {"(0)"}},
      {"llama-tiny", "max_position_embeddings", -1, {"-1"}},
      {"mistral-tiny", "sliding_window", -1, {"-1"}},
      {"mistral-tiny", "sliding_window", 0, {"(0)"}},
      {"qwen2-tiny", "num_attention_heads", 0, {"(0)"}},
      {"qwen3-tiny", "num_key_value_heads", -2, {"-2"}},
      {"phi3-tiny", "num_attention_heads", 0, {"(0)"}},
      {"phi3-tiny", "original_max_position_embeddings", 0, {"(0)"}},
      {"gemma3-tiny", "num_attention_heads", 0, {"(0)"}},
      {"gemma3-tiny", "query_pre_attn_scalar", 0, {"(0)"}},
      {"gemma3-tiny", "query_pre_attn_scalar", -16, {"-16"}},
      {"gemma3-tiny", "final_logit_softcapping", 0.0, {"0.0"}},
      {"gemma3-tiny", "final_logit_softcapping", -30.0, {"-30.0"}},
      {"gpt2-tiny", "n_head", 0, {"(0)"}},
      {"gpt2-tiny", "n_embd", 0, {"(0)"}},
      {"gpt2-tiny", "n_layer", -1, {"-1"}},
      {"gpt2-tiny", "n_positions", 0, {"(0)"}},
      {"gpt2-tiny", "n_inner", -256, {"-256"}},
      {"gpt2-tiny", "layer_norm_epsilon", -1e-5, {"-1e-05"}},
      {"t5-tiny", "d_model", 0, {"(0)"}},
      {"t5-tiny", "d_kv", 0, {"(0)"}},
      {"t5-tiny", "d_ff", -1, {"-1"}},
      {"t5-tiny", "num_heads", 0, {"(0)"}},
      {"t5-tiny", "num_layers", 0, {"(0)"}},
      {"t5-tiny", "num_decoder_layers", -1, {"-1"}},
      {"t5-tiny", "relative_attention_num_buckets", 0, {"(0)"}},
      {"t5-tiny", "relative_attention_num_buckets", 2, {"(2)", "at least 4"}},
      {"t5-tiny", "relative_attention_max_distance", 0, {"(0)"}},
      {"t5-tiny", "relative_attention_max_distance", 16, {"(16)"}},
      {"t5-tiny", "layer_norm_epsilon", -1.0, {"-1.0"}},
      {"t5-v1_1-tiny", "num_heads", 0, {"(0)"}},
      {"bart-tiny", "d_model", 0, {"(0)"}},
      {"bart-tiny", "encoder_attention_heads", 0, {"(0)"}},  // was SIGFPE
      {"bart-tiny", "decoder_attention_heads", -4, {"-4"}},
      {"bart-tiny", "encoder_layers", 0, {"(0)"}},
      {"bart-tiny", "decoder_ffn_dim", 0, {"(0)"}},
      {"bart-tiny", "max_position_embeddings", 0, {"(0)"}},
      {"mbart-tiny", "decoder_layers", -1, {"-1"}},
      {"mbart-tiny", "encoder_ffn_dim", -128, {"-128"}},
      {"marian-tiny", "decoder_vocab_size", 0, {"(0)"}},
      {"marian-tiny", "max_position_embeddings", -3, {"-3"}},
  };
  for (const auto& c : cases) expect_config_error(c);
}

TEST(HostileConfig, GemmaSlidingPatternMustBePositive) {
  // Read only without layer_types (older Gemma 3 configs); 0 was a division by zero.
  ScratchFolder f("gemma3-tiny");
  edit_config(f, [](json& c) {
    c.erase("layer_types");
    c["sliding_window_pattern"] = 0;
  });
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "sliding_window_pattern", "(0)"});
}

TEST(HostileConfig, SizesBeyondIntAreRefusedNotWrapped) {
  // 4294967298 = 2^32 + 2 used to become 2 layers; the error keeps the user's value.
  for (const BadValue& c : std::vector<BadValue>{{"llama-tiny", "num_hidden_layers", 4294967298LL, {"4294967298"}},
                                                 {"llama-tiny", "hidden_size", 4294967360LL, {"4294967360"}},
                                                 {"gpt2-tiny", "n_head", 4294967300LL, {"4294967300"}},
                                                 {"t5-tiny", "d_kv", 8589934608LL, {"8589934608"}},
                                                 {"bart-tiny", "encoder_layers", 4294967298LL, {"4294967298"}},
                                                 {"llama-tiny", "vocab_size", 1e19, {"1e+19"}}})
    expect_config_error(c);
}

TEST(HostileConfig, TokenIdsBeyondInt32AreRefusedNotTruncated) {
  expect_config_error({"t5-tiny", "decoder_start_token_id", 4294967298LL, {"4294967298"}});
  expect_config_error({"llama-tiny", "eos_token_id", {2, 4294967298LL}, {"4294967298"}});
  expect_config_error({"gpt2-tiny", "bos_token_id", -4294967296LL, {"-4294967296"}});
}

TEST(HostileConfig, MarianTargetVocabularyMustMatchTheSharedEmbeddings) {
  // Without final_logits_bias nothing else has decoder_vocab_size rows: the LM head (the shared
  // embeddings) wrote 1024 logits into a buffer of decoder_vocab_size.
  for (int64_t v : {512, 2048}) {
    ScratchFolder f("marian-tiny");
    f.write("model.safetensors", test::repacked(f.file("model.safetensors"),
                                                [](const std::string& name) { return name != "final_logits_bias"; }));
    edit_config(f, [&](json& c) { c["decoder_vocab_size"] = v; });
    expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "decoder_vocab_size = " + std::to_string(v)});
  }
}

TEST(HostileConfig, DivisibilityNamesBothKeys) {
  expect_config_error({"llama-tiny", "num_key_value_heads", 3, {"num_attention_heads (4)", "num_key_value_heads (3)"}});
  expect_config_error({"gpt2-tiny", "n_head", 5, {"n_embd (64)", "n_head (5)"}});
  expect_config_error({"bart-tiny", "encoder_attention_heads", 5, {"d_model (64)", "encoder_attention_heads (5)"}});
  expect_config_error({"mbart-tiny", "decoder_attention_heads", 6, {"d_model (64)", "decoder_attention_heads (6)"}});
  // Without head_dim, it is hidden_size / num_attention_heads, which must divide.
  ScratchFolder f("qwen2-tiny");
  edit_config(f, [](json& c) {
    c.erase("head_dim");
    c["num_attention_heads"] = 5;
    c["num_key_value_heads"] = 5;
  });
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "hidden_size (64)", "num_attention_heads (5)"});
}

TEST(HostileConfig, AbsurdLayerCountNamesTheKeyBeforeAllocating) {
  // 10^9 layers used to fail with "out of memory" naming nothing.
  expect_config_error({"llama-tiny", "num_hidden_layers", 1000000000, {"1000000000", "the weights hold 2 layers"}});
  expect_config_error({"gemma3-tiny", "num_hidden_layers", 2147483647, {"2147483647", "the weights hold"}});
  expect_config_error({"gpt2-tiny", "n_layer", 1000000000, {"1000000000", "the weights hold 2 layers"}});
  expect_config_error({"t5-tiny", "num_layers", 1000000000, {"1000000000", "encoder.block."}});
  expect_config_error({"t5-tiny", "num_decoder_layers", 3, {"is 3", "decoder.block."}});
  expect_config_error({"bart-tiny", "decoder_layers", 1000000000, {"1000000000", "model.decoder.layers."}});
  expect_config_error({"marian-tiny", "encoder_layers", 7, {"is 7", "model.encoder.layers."}});
}

TEST(HostileConfig, ConfigDisagreeingWithWeightsNamesTheKey) {
  // Used to be blamed on the tensor alone ("expected [1024, 100]").
  expect_config_error({"llama-tiny", "hidden_size", 100, {"hidden_size = 100", "disagrees with the weights", "model.embed_tokens.weight"}});
  expect_config_error({"llama-tiny", "intermediate_size", 100, {"intermediate_size = 100", "mlp.gate_proj.weight"}});
  expect_config_error({"llama-tiny", "head_dim", 8, {"num_attention_heads (4) × head_dim (8) = 32", "self_attn"}});
  expect_config_error({"llama-tiny", "vocab_size", 2048, {"vocab_size = 2048", "model.embed_tokens.weight"}});
  expect_config_error({"phi3-tiny", "intermediate_size", 64, {"intermediate_size (64)"}});
  expect_config_error({"gpt2-tiny", "n_inner", 100, {"n_inner = 100", "mlp.c_fc.weight"}});
  expect_config_error({"gpt2-tiny", "n_positions", 1000, {"n_positions = 1000", "wpe.weight"}});
  expect_config_error({"t5-tiny", "d_ff", 100, {"d_ff = 100", "DenseReluDense"}});
  expect_config_error({"t5-tiny", "d_kv", 8, {"num_heads (4) × d_kv (8) = 32"}});
  expect_config_error({"t5-tiny", "relative_attention_num_buckets", 64, {"relative_attention_num_buckets = 64"}});
  expect_config_error({"bart-tiny", "encoder_ffn_dim", 100, {"encoder_ffn_dim = 100", "fc1.weight"}});
  expect_config_error({"bart-tiny", "max_position_embeddings", 1000, {"max_position_embeddings (1000) + 2 = 1002"}});
  expect_config_error({"marian-tiny", "decoder_vocab_size", 999, {"decoder_vocab_size = 999"}});
}

TEST(HostileConfig, LayerTypesMustBeKnown) {
  ScratchFolder f("llama-tiny");
  edit_config(f, [](json& c) { c["layer_types"] = {"full_attention", "linear_attention"}; });
  expect_error(f.path(), ErrorKind::kUnsupported, {"config.json", "layer_types", "linear_attention"});
}

TEST(HostileConfig, M2M100PaddingIndexMustBeAToken) {
  for (int64_t pad : {int64_t(-1), int64_t(5000), int64_t(1) << 40}) {
    ScratchFolder f("mbart-tiny");
    edit_config(f, [&](json& c) {
      c["model_type"] = "m2m_100";
      c["architectures"] = {"M2M100ForConditionalGeneration"};
      c["pad_token_id"] = pad;
    });
    expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "pad_token_id", std::to_string(pad)});
  }
}

// ---- rope parameters

TEST(HostileConfig, RopeParametersAreValidated) {
  const std::vector<BadValue> cases = {
      // rotary_dim = 4 × head_dim used to rotate past the buffer (heap overflow).
      {"llama-tiny", "partial_rotary_factor", 4.0, {"(0, 1]", "4.0"}},
      {"llama-tiny", "rope_parameters.partial_rotary_factor", 4.0, {"(0, 1]", "4"}},
      {"llama-tiny", "partial_rotary_factor", 0.0, {"(0, 1]"}},
      {"llama-tiny", "partial_rotary_factor", -0.5, {"(0, 1]"}},
      {"llama-tiny", "partial_rotary_factor", 0.3125, {"rotary dimension of 5", "even"}},  // 16 × 0.3125 = 5
      {"llama-tiny", "partial_rotary_factor", 0.0625, {"rotary dimension of 1"}},
      {"llama-tiny", "rope_parameters.rope_theta", 0.0, {"positive"}},
      {"llama-tiny", "rope_parameters.rope_theta", -10000.0, {"-10000"}},
      {"llama-tiny", "rope_parameters.factor", 0.0, {"positive"}},
      {"llama-tiny", "rope_parameters.factor", -4.0, {"-4"}},
      {"llama3-rope-tiny", "rope_parameters.original_max_position_embeddings", 0, {"(0)"}},
      {"llama3-rope-tiny", "rope_parameters.original_max_position_embeddings", -32, {"-32"}},
      {"llama3-rope-tiny", "rope_parameters.low_freq_factor", 0.0, {"positive"}},
      {"llama3-rope-tiny", "rope_parameters.high_freq_factor", 1.0, {"greater than low_freq_factor"}},  // = low: 0/0
      {"llama3-rope-tiny", "rope_parameters.factor", -8.0, {"-8"}},
  };
  for (const auto& c : cases) expect_config_error(c);
}

TEST(HostileConfig, RopeScalingVariantsAreValidated) {
  auto with_rope = [](json rope, std::vector<std::string> fragments) {
    SCOPED_TRACE(rope.dump());
    ScratchFolder f("llama-tiny");  // head_dim 16: rotary_dim / 2 = 8 frequencies
    edit_config(f, [&](json& c) { c["rope_parameters"] = rope; });
    fragments.insert(fragments.begin(), "config.json");
    expect_error(f.path(), ErrorKind::kInvalidInput, fragments);
  };
  const json eight = json::array({1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0});
  with_rope({{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"short_factor", {1.0, 1.0}}, {"long_factor", eight},
             {"original_max_position_embeddings", 64}},
            {"short_factor/long_factor need 8 entries", "got 2 and 8"});
  json zero = eight;
  zero[3] = 0.0;
  with_rope({{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"short_factor", eight}, {"long_factor", zero},
             {"original_max_position_embeddings", 64}},
            {"long_factor[3]", "positive"});
  with_rope({{"rope_type", "longrope"}, {"rope_theta", 10000.0}, {"short_factor", eight}, {"long_factor", eight},
             {"original_max_position_embeddings", 1}},
            {"non-finite"});  // ln(1) = 0 in the attention factor
  with_rope({{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"beta_fast", 0.0}}, {"beta_fast", "positive"});
  with_rope({{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"beta_slow", -1.0}}, {"beta_slow"});
  with_rope({{"rope_type", "yarn"}, {"rope_theta", 1.0}, {"factor", 4.0}}, {"rope_theta", "greater than 1"});
  with_rope({{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"attention_factor", -1.0}},
            {"attention_factor"});
  with_rope({{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}, {"original_max_position_embeddings", 0}},
            {"original_max_position_embeddings", "(0)"});
  with_rope({{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 0.0}}, {"factor", "positive"});
}

TEST(HostileConfig, DynamicRopeNeedsAnOriginalLength) {
  ScratchFolder f("llama-tiny");
  edit_config(f, [](json& c) {
    c.erase("max_position_embeddings");
    c["rope_parameters"] = {{"rope_type", "dynamic"}, {"rope_theta", 10000.0}, {"factor", 2.0}};
  });
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "dynamic", "original_max_position_embeddings"});
}

// ---- memory implied by the config

TEST(HostileConfig, ComputedPositionTableTooLargeForMemoryIsRefused) {
  // Marian computes its sinusoidal table from config.json alone: 2^31 - 1 positions × 64
  // features is 512 GiB, refused before allocating, naming the keys.
  const double bytes = 2147483647.0 * 64 * 4;
  if (bytes <= allocation_budget_bytes()) GTEST_SKIP() << "this machine could hold the table";
  expect_config_error({"marian-tiny", "max_position_embeddings", 2147483647,
                       {"2147483647", "d_model (64)", "sinusoidal position table", "more than this machine can hold"}});
}

// ---- sequence lengths against the model's positions

// Restores the input limits a test changed.
class LimitsGuard {
 public:
  LimitsGuard() : saved_(input_limits()) {}
  ~LimitsGuard() { set_input_limits(saved_); }

 private:
  InputLimits saved_;
};

void expect_length_error(const std::function<void()>& fn, std::vector<std::string> fragments) {
  try {
    fn();
    FAIL() << "should have been refused";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(ErrorKind::kInvalidInput)) << e.what();
    for (auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << f << "' not in: " << e.what();
  }
}

TEST(HostileInput, PromptLongerThanRopeContextIsRefusedBeforeAllocating) {
  // `autolm logits` on 40k ids used 12.8 GB (quadratic attention scratch, no limit).
  auto model = load_model(test::model_dir("llama-tiny"));
  EXPECT_EQ(model->config().max_positions, 256);
  expect_length_error([&] { model->new_state(1, 40000); }, {"40000 tokens", "max_position_embeddings = 256", "AUTOLM_MAX_POSITIONS"});
  expect_length_error([&] { model->new_state(4, 257); }, {"257 tokens"});
  model->new_state(1, 256);  // the configured context itself is fine
  // llama3 scaling extends the original context by its factor (8 × 32 = 256 here).
  EXPECT_EQ(load_model(test::model_dir("llama3-rope-tiny"))->config().max_positions, 256);
}

TEST(HostileInput, RopeLimitFollowsAutolmMaxPositions) {
  LimitsGuard guard;
  InputLimits l = input_limits();
  l.max_positions = 300;
  set_input_limits(l);
  auto model = load_model(test::model_dir("qwen3-tiny"));
  EXPECT_EQ(model->config().max_positions, 300);
  auto state = model->new_state(1, 300);
  std::vector<int32_t> ids(300, 7);
  EXPECT_EQ(model->decode(ids, {}, 300, *state, false).size(), size_t(model->config().vocab_size));
  expect_length_error([&] { model->new_state(1, 301); }, {"301 tokens", "AUTOLM_MAX_POSITIONS = 300"});
}

TEST(HostileInput, PositionTablesAreHardLimits) {
  auto gpt2 = load_model(test::model_dir("gpt2-tiny"));
  expect_length_error([&] { gpt2->new_state(1, 129); }, {"129 tokens", "n_positions = 128"});
  auto bart = load_model(test::model_dir("bart-tiny"));
  expect_length_error([&] { bart->new_state(1, 40000); }, {"40000 tokens", "max_position_embeddings = 128"});
  auto state = bart->new_state(1, 8);
  std::vector<int32_t> src(200, 5);
  expect_length_error([&] { bart->encode(src, {}, 200, *state); }, {"encoder input of 200 tokens", "max_position_embeddings = 128"});
  auto marian = load_model(test::model_dir("marian-tiny"));
  auto mstate = marian->new_state(1, 8);
  expect_length_error([&] { marian->encode(src, {}, 200, *mstate); }, {"200 tokens", "max_position_embeddings = 128"});
}

TEST(HostileInput, T5SequencesAreBoundedByTheDocumentedLimit) {
  auto t5 = load_model(test::model_dir("t5-tiny"));
  EXPECT_EQ(t5->config().max_positions, kDefaultComputedPositions);
  auto state = t5->new_state(1, 8);
  std::vector<int32_t> src(kDefaultComputedPositions + 1, 5);
  expect_length_error([&] { t5->encode(src, {}, int(src.size()), *state); },
                      {"encoder input of " + std::to_string(src.size()) + " tokens", "AUTOLM_MAX_POSITIONS"});
  expect_length_error([&] { t5->new_state(1, 40000); }, {"40000 tokens"});
  LimitsGuard guard;
  InputLimits l = input_limits();
  l.max_positions = 64;
  set_input_limits(l);
  auto small = load_model(test::model_dir("t5-tiny"));
  auto s2 = small->new_state(1, 8);
  std::vector<int32_t> src65(65, 5);
  expect_length_error([&] { small->encode(src65, {}, 65, *s2); }, {"65 tokens", "AUTOLM_MAX_POSITIONS = 64"});
}

TEST(HostileInput, AbsurdBatchIsRefusedBeforeAllocating) {
  auto model = load_model(test::model_dir("llama-tiny"));
  expect_length_error([&] { model->new_state(2000000000, 256); }, {"KV cache", "more than this machine can hold"});
  expect_length_error([&] { model->new_state(0, 16); }, {"positive batch"});
  auto t5 = load_model(test::model_dir("t5-tiny"));
  expect_length_error([&] { t5->new_state(4, 8, 0); }, {"rows per input"});
  expect_length_error([&] { t5->new_state(4, 8, 3); }, {"rows per input"});
}

// Attention over a long prompt processes queries in blocks (bounded scratch): the result is the
// plain softmax(q·kᵀ)·v of every query.
TEST(HostileInput, LongPromptAttentionMatchesReference) {
  const int H = 2, KVH = 1, D = 4, T = 1500;  // T × T scores > one block
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> q(size_t(T) * H * D), k(size_t(KVH) * T * D), v(size_t(KVH) * T * D), out(q.size());
  for (auto* x : {&q, &k, &v})
    for (float& f : *x) f = dist(rng);
  std::vector<uint8_t> valid(T, 1);
  valid[3] = 0;  // one padding key
  KVSource kv;
  kv.k = [&](int, int h) { return k.data() + size_t(h) * T * D; };
  kv.v = [&](int, int h) { return v.data() + size_t(h) * T * D; };
  kv.key_valid = [&](int) { return valid.data(); };
  AttentionSpec spec;
  spec.num_heads = H;
  spec.num_kv_heads = KVH;
  spec.head_dim = D;
  spec.scale = 0.5f;
  spec.causal = true;
  spec.sliding_window = 700;
  attention(spec, 1, T, 0, q.data(), kv, T, out.data());
  double max_err = 0;
  for (int t : {0, 1, 5, 699, 700, 1024, 1025, T - 1})
    for (int h = 0; h < H; ++h) {
      std::vector<double> p(T, 0.0);
      double mx = -1e300, sum = 0;
      const int begin = std::max(0, t - spec.sliding_window + 1);
      for (int j = begin; j <= t; ++j) {
        if (!valid[j]) continue;
        double s = 0;
        for (int d = 0; d < D; ++d) s += double(q[(size_t(t) * H + h) * D + d]) * k[size_t(j) * D + d];
        p[j] = s * spec.scale;
        mx = std::max(mx, p[j]);
      }
      for (int j = begin; j <= t; ++j) sum += valid[j] ? (p[j] = std::exp(p[j] - mx)) : (p[j] = 0);
      for (int d = 0; d < D; ++d) {
        double o = 0;
        for (int j = begin; j <= t; ++j) o += p[j] / sum * v[size_t(j) * D + d];
        max_err = std::max(max_err, std::abs(o - out[(size_t(t) * H + h) * D + d]));
      }
    }
  EXPECT_LT(max_err, 1e-4);
}

// ---- config.json that is not a regular file inside the folder

TEST(HostileFolder, ConfigJsonFifoIsRefusedWithoutHanging) {
  ScratchFolder f("llama-tiny");
  std::filesystem::remove(f.file("config.json"));
  ASSERT_EQ(::mkfifo(f.file("config.json").c_str(), 0600), 0);
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json"});
}

TEST(HostileFolder, ConfigJsonSymlinkOutOfTheFolderIsRefused) {
  for (const char* target : {"/dev/zero", "/etc/passwd"}) {
    ScratchFolder f("llama-tiny");
    std::filesystem::remove(f.file("config.json"));
    std::filesystem::create_symlink(target, f.file("config.json"));
    expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "outside the model folder"});
    try {
      AutoConfig::from_pretrained(f.path());
      ADD_FAILURE() << "AutoConfig must refuse it too";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("outside the model folder"), std::string::npos) << e.what();
    }
  }
  // A link inside the folder is fine.
  ScratchFolder f("llama-tiny");
  std::filesystem::rename(f.file("config.json"), f.file("real-config.json"));
  std::filesystem::create_symlink("real-config.json", f.file("config.json"));
  EXPECT_EQ(load_model(f.path())->config().model_type, "llama");
}

// ---- exceptions inside the thread pool

TEST(ThreadPoolErrors, WorkerExceptionIsRethrownOnTheCaller) {
  ThreadPool pool(4);
  for (int round = 0; round < 3; ++round) {
    std::atomic<int> ran{0};
    try {
      pool.run([&](int t, int) {
        ++ran;
        if (t == 2) throw Error(ErrorKind::kInvalidInput, "worker 2 failed");
      });
      FAIL() << "the worker's Error must reach the caller";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "worker 2 failed");
    }
    EXPECT_EQ(ran.load(), 4);  // every thread finished before the rethrow
  }
  // bad_alloc from the calling thread's share, and from every thread at once.
  EXPECT_THROW(pool.run([](int t, int) {
    if (t == 0) throw std::bad_alloc();
  }),
               std::bad_alloc);
  EXPECT_THROW(pool.run([](int, int) { throw std::runtime_error("all"); }), std::runtime_error);
  // parallel_for rethrows too, and the pool stays usable afterwards.
  EXPECT_THROW(pool.parallel_for(1000, 1, [](int64_t b, int64_t) {
    if (b > 0) throw Error(ErrorKind::kInternal, "range");
  }),
               Error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(1000, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
}

TEST(ThreadPoolErrors, NestedTaskExceptionPropagates) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.run([&](int, int) {
    // Nested use runs inline and its exception unwinds through the outer task.
    pool.parallel_for(10, 1, [](int64_t, int64_t) { throw Error(ErrorKind::kInvalidInput, "nested"); });
  }),
               Error);
  int calls = 0;
  pool.run([&](int t, int) {
    if (t == 0) ++calls;
  });
  EXPECT_EQ(calls, 1);
}

// Sets (or, with nullptr, unsets) an environment variable for the life of the guard.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) saved_ = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~EnvGuard() { saved_ ? ::setenv(name_, saved_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(ThreadPoolErrors, ThreadCountFromTheEnvironmentIsValidated) {
  EnvGuard omp("OMP_NUM_THREADS", nullptr);
  for (const char* bad : {"abc", "0", "-3", "99999999999999999999", "100000", "4x"}) {
    EnvGuard ours("AUTOLM_NUM_THREADS", bad);
    try {
      ThreadPool::default_threads();
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(int(e.kind()), int(ErrorKind::kInvalidInput));
      EXPECT_NE(std::string(e.what()).find(std::string("AUTOLM_NUM_THREADS=\"") + bad), std::string::npos) << e.what();
    }
  }
  {
    EnvGuard ours("AUTOLM_NUM_THREADS", "3");
    EXPECT_EQ(ThreadPool::default_threads(), 3);
  }
  EnvGuard ours("AUTOLM_NUM_THREADS", nullptr);
  {
    EnvGuard o("OMP_NUM_THREADS", "6,2");  // OpenMP's nested list: the first level
    EXPECT_EQ(ThreadPool::default_threads(), 6);
  }
  {
    EnvGuard o("OMP_NUM_THREADS", "1000000");  // capped, not a million threads
    EXPECT_EQ(ThreadPool::default_threads(), 4096);
  }
  {
    EnvGuard o("OMP_NUM_THREADS", "lots");  // another library's business: ignored
    EXPECT_GE(ThreadPool::default_threads(), 1);
  }
}

}  // namespace
}  // namespace autolm
