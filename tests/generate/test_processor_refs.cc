// The logits processors of sequence_bias, encoder_repetition_penalty, remove_invalid_values,
// exponential_decay_length_penalty, epsilon_cutoff and eta_cutoff against transformers 5.17's own
// classes, chained by its `_get_logits_processor` (tests/data/generation/processor_refs.json,
// made by tests/data/make_generation_refs.py). Each case's `config` goes through
// GenerationConfig::update and LogitsPipeline, so field parsing, order and start indices count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "generate/logits_processors.h"
#include "io/json_file.h"

namespace autolm::gen {
namespace {

const std::string kRefs = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/generation/processor_refs.json";

const nlohmann::json& refs() {
  static const nlohmann::json j = load_json_file(kRefs);
  return j;
}

float value_of(const nlohmann::json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<float>::infinity();
    if (s == "-inf") return -std::numeric_limits<float>::infinity();
    throw std::runtime_error("bad value " + s);
  }
  return static_cast<float>(v.get<double>());
}

std::vector<float> row_of(const nlohmann::json& r) {
  std::vector<float> out;
  for (const auto& v : r) out.push_back(value_of(v));
  return out;
}

// Runs every case whose name starts with `prefix`; returns how many ran.
int run_cases(const std::string& prefix) {
  int n = 0;
  for (const auto& c : refs()["cases"]) {
    const std::string name = c["name"].get<std::string>();
    if (name.rfind(prefix, 0) != 0) continue;
    ++n;
    SCOPED_TRACE(name);
    GenerationConfig cfg;
    cfg.update(c["config"], kRefs);
    EXPECT_NO_THROW(cfg.validate());
    const int input_len = c["input_len"].get<int>();
    LogitsPipeline pipeline(cfg, input_len, /*max_length=*/1000, /*min_length=*/0);
    const auto input_ids = c["input_ids"].get<std::vector<std::vector<int32_t>>>();
    const auto encoder = c["encoder_input_ids"].get<std::vector<std::vector<int32_t>>>();
    for (size_t r = 0; r < input_ids.size(); ++r) {
      std::vector<float> scores = row_of(c["scores"][r]);
      const std::vector<float> expected = row_of(c["expected"][r]);
      const auto enc = encoder_repetition_ids(encoder, static_cast<int>(r));
      pipeline.apply(scores, RowView{input_ids[r], enc, enc}, static_cast<int>(input_ids[r].size()));
      if (scores.size() != expected.size()) {
        ADD_FAILURE() << "row " << r << ": " << scores.size() << " scores, " << expected.size() << " expected";
        continue;
      }
      for (size_t v = 0; v < scores.size(); ++v) {
        if (std::isnan(expected[v]))
          EXPECT_TRUE(std::isnan(scores[v])) << "row " << r << " token " << v << ": " << scores[v] << ", want nan";
        else if (!cfg.renormalize_logits)
          EXPECT_EQ(scores[v], expected[v]) << "row " << r << " token " << v;  // bit-exact float32
        else  // log_softmax sums differently from torch: last bits only
          EXPECT_FLOAT_EQ(scores[v], expected[v]) << "row " << r << " token " << v;
      }
    }
  }
  return n;
}

TEST(LogitsProcessorRefs, MadeWithTransformers517) {
  EXPECT_EQ(refs()["versions"]["transformers"].get<std::string>().rfind("5.17.0", 0), 0u)
      << refs()["versions"].dump();
}

TEST(LogitsProcessorRefs, SequenceBias) { EXPECT_EQ(run_cases("sequence_bias_"), 3); }

TEST(LogitsProcessorRefs, EncoderRepetitionPenalty) { EXPECT_EQ(run_cases("encoder_repetition_penalty_"), 5); }

TEST(LogitsProcessorRefs, RemoveInvalidValues) { EXPECT_EQ(run_cases("remove_invalid_values"), 1); }

TEST(LogitsProcessorRefs, ExponentialDecayLengthPenalty) { EXPECT_EQ(run_cases("exp_decay_"), 6); }

TEST(LogitsProcessorRefs, EpsilonCutoff) { EXPECT_EQ(run_cases("epsilon_"), 4); }

TEST(LogitsProcessorRefs, EtaCutoff) { EXPECT_EQ(run_cases("eta_"), 4); }

TEST(LogitsProcessorRefs, PipelineOrder) { EXPECT_EQ(run_cases("pipeline_"), 3); }

TEST(LogitsProcessorRefs, EveryCaseIsRun) {
  const std::set<std::string> prefixes = {"sequence_bias_", "encoder_repetition_penalty_", "remove_invalid_values",
                                          "exp_decay_",     "epsilon_",                    "eta_",
                                          "pipeline_"};
  for (const auto& c : refs()["cases"]) {
    const std::string name = c["name"].get<std::string>();
    bool covered = false;
    for (const auto& p : prefixes) covered = covered || name.rfind(p, 0) == 0;
    EXPECT_TRUE(covered) << name;
  }
}

// The multi-token rule on its own: the bias goes to the last token when the row ends with the
// rest; biases of several matching sequences with the same last token add up.
TEST(LogitsProcessorRefs, SequenceBiasByHand) {
  GenerationConfig::SequenceBias bias = {{{2, 5}, 1.5f}, {{4, 2, 5}, 0.75f}, {{3}, 2.0f}, {{3}, 4.0f}, {{9, 5}, 8.0f}};
  auto prepared = prepare_sequence_bias(bias);
  ASSERT_EQ(prepared.size(), 4u);  // {3} once, with the last bias
  EXPECT_EQ(prepared[2].second, 4.0f);
  std::vector<float> s(6, 0.0f);
  std::vector<int32_t> ids = {4, 2};
  sequence_bias(s, ids, prepared);
  EXPECT_EQ(s, (std::vector<float>{0, 0, 0, 4.0f, 0, 1.5f}));  // [4,2,5] is longer than the context
  std::vector<float> t(6, 0.0f);
  std::vector<int32_t> ids3 = {1, 4, 2};
  sequence_bias(t, ids3, prepared);
  EXPECT_EQ(t[5], 1.5f + 0.75f);
}

}  // namespace
}  // namespace autolm::gen
