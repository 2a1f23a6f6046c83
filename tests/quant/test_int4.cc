// int4 weights (--dtype int4 / int4-g64) on the fixtures: logits against float32 (the error is
// reported per model, and bounded), the demo models' greedy outputs and t5-numbers' accuracy,
// and the refusals (in_features not a multiple of the group size).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "autolm/tokenizer.h"
#include "fixtures.h"
#include "t5_numbers.h"

namespace autolm {
namespace {

struct LogitError {
  double rel_rms = 0;   // RMS(int4 − float32) / RMS(float32) over every logit
  double mean_kl = 0;   // mean over positions of KL(softmax(float32) ‖ softmax(int4)), nats
  double top1 = 0;      // fraction of positions whose argmax agrees
};

LogitError compare(const std::vector<float>& ref, const std::vector<float>& got, int64_t vocab) {
  LogitError e;
  double num = 0, den = 0;
  const int64_t positions = int64_t(ref.size()) / vocab;
  for (int64_t p = 0; p < positions; ++p) {
    const float* a = ref.data() + p * vocab;
    const float* b = got.data() + p * vocab;
    double ma = -INFINITY, mb = -INFINITY;
    int64_t ia = 0, ib = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      num += double(a[v] - b[v]) * (a[v] - b[v]);
      den += double(a[v]) * a[v];
      if (a[v] > ma) ma = a[v], ia = v;
      if (b[v] > mb) mb = b[v], ib = v;
    }
    double za = 0, zb = 0;
    for (int64_t v = 0; v < vocab; ++v) za += std::exp(a[v] - ma), zb += std::exp(b[v] - mb);
    double kl = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const double la = a[v] - ma - std::log(za), lb = b[v] - mb - std::log(zb);
      kl += std::exp(la) * (la - lb);
    }
    e.mean_kl += kl / positions;
    e.top1 += double(ia == ib) / positions;
  }
  e.rel_rms = std::sqrt(num / den);
  return e;
}

std::vector<float> all_logits(const Model& model, const std::vector<int32_t>& ids) {
  auto state = model.new_state(1, int64_t(ids.size()));
  auto logits = model.decode(ids, {}, int64_t(ids.size()), *state, true);
  return {logits.begin(), logits.end()};
}

// Every decoder-only fixture: logits over the first reference prompt, float32 vs int4 (groups of
// 32) and int4-g64 where the hidden size allows it; int8 alongside for scale.
TEST(Int4, FixtureLogitErrorVsFloat32) {
  std::printf("%-20s %-9s %9s %10s %6s\n", "model", "dtype", "rel_rms", "mean_kl", "top1");
  for (const auto& name : test::causal_models()) {
    const std::string dir = test::model_dir(name);
    auto ids = test::load_ref(name)["cases"][0]["input_ids"].get<std::vector<int32_t>>();
    const auto f32 = all_logits(*load_model(dir, LoadOptions{.dtype = Dtype::kFloat32}), ids);
    const int64_t vocab = int64_t(f32.size() / ids.size());
    double int8_error = 0;
    for (const std::string dtype : {"int8", "int4", "int4-g64"}) {
      std::shared_ptr<const Model> model;
      try {
        model = load_model(dir, LoadOptions{.dtype = parse_dtype(dtype)});
      } catch (const Error& e) {  // a hidden size without whole groups (32: no groups of 64; phi-tiny's 40)
        EXPECT_NE(dtype, "int8") << name << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(dtype == "int4" ? "multiple of 32" : "multiple of 64"), std::string::npos)
            << e.what();
        continue;
      }
      const LogitError e = compare(f32, all_logits(*model, ids), vocab);
      std::printf("%-20s %-9s %9.5f %10.6f %6.3f\n", name.c_str(), dtype.c_str(), e.rel_rms, e.mean_kl, e.top1);
      RecordProperty(name + "_" + dtype + "_rel_rms", std::to_string(e.rel_rms));
      RecordProperty(name + "_" + dtype + "_mean_kl", std::to_string(e.mean_kl));
      // Random tiny models (Gaussian weights, flat logits) are the hard case for 4 bits: measured
      // 0.11-0.41 (docs/PERFORMANCE.md); a wrong nibble order or zero point gives ≥ 1.
      if (dtype == "int8") {
        int8_error = e.rel_rms;
        EXPECT_LT(e.rel_rms, 0.05) << name;
        continue;
      }
      EXPECT_LT(e.rel_rms, 0.5) << name << " " << dtype;
      EXPECT_GT(e.rel_rms, 2 * int8_error) << name << " " << dtype << ": 4 bits should cost more than 8";
      if (name == "chat-tiny") {  // the trained demo model
        EXPECT_LT(e.rel_rms, 0.15) << dtype;
        EXPECT_LT(e.mean_kl, 0.01) << dtype;
      }
    }
  }
}

TEST(Int4, DemoGreedyOutputs) {
  for (const std::string name : {"t5-numbers", "chat-tiny"}) {
    auto model = load_model(test::model_dir(name), LoadOptions{.dtype = Dtype::kInt4});
    auto ref = test::load_ref(name);
    int same = 0, cases = 0;
    for (const auto& c : ref["cases"]) {
      const auto& g = c["gen"]["greedy"];
      GenerationConfig cfg = GenerationConfig::for_model(*model);
      cfg.update(g["params"]);
      auto out = generate(*model, {c["input_ids"].get<std::vector<int32_t>>()}, cfg);
      const auto want = g["sequences"][0].get<std::vector<int32_t>>();
      same += out.sequences[0] == want;
      ++cases;
      std::printf("%s int4 %s: %s\n", name.c_str(), out.sequences[0] == want ? "same" : "differs",
                  c["prompt"].dump().c_str());
    }
    RecordProperty(name + "_int4_greedy_identical", std::to_string(same) + "/" + std::to_string(cases));
    EXPECT_GE(same, cases / 2) << name;
  }
}

// The same 200 examples Int8.T5NumbersKeepsItsAccuracy runs (float32 scores 1.000 on them,
// int4 measured 1.000 too).
TEST(Int4, T5NumbersAccuracy) {
  const std::string dir = test::model_dir("t5-numbers");
  auto tok = AutoTokenizer::from_pretrained(dir);
  const double int4 = test::accuracy(*load_model(dir, LoadOptions{.dtype = Dtype::kInt4}), *tok, 200);
  std::printf("t5-numbers accuracy: int4 %.3f\n", int4);
  RecordProperty("accuracy_int4", std::to_string(int4));
  EXPECT_GE(int4, 0.95);
}

TEST(Int4, HiddenSizeNotAMultipleOf32IsRefused) {
  // phi-tiny: hidden_size 40.
  try {
    load_model(test::model_dir("phi-tiny"), LoadOptions{.dtype = Dtype::kInt4});
    FAIL() << "phi-tiny (hidden 40) loaded as int4";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("tensor \""), std::string::npos) << msg;
    EXPECT_NE(msg.find("multiple of 32"), std::string::npos) << msg;
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
}

}  // namespace
}  // namespace autolm
