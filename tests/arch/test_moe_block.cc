// The MoE block on its own against transformers' sparse MoE modules (MixtralSparseMoeBlock,
// Qwen2MoeSparseMoeBlock with its gated shared expert, Qwen3MoeSparseMoeBlock): the block's
// weights as the Hub names them, a random input and the module's output, made by
// tests/data/make_arch_fixtures_moe.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "io/json_file.h"
#include "io/safetensors.h"
#include "nn/moe.h"

namespace autolm {
namespace {

std::string moe_dir() { return std::string(AUTOLM_SOURCE_DIR) + "/tests/data/moe/"; }

struct Loaded {
  std::unique_ptr<WeightStore> store;
  MoE moe;
  TensorView input, output;  // (tokens, hidden)
};

Loaded load_case(const std::string& name, WeightFormat format) {
  Loaded l;
  auto meta = load_json_file(moe_dir() + name + ".json");
  const auto& cfg = meta["config"];
  l.store = std::make_unique<WeightStore>(std::vector<std::string>{moe_dir() + name + ".safetensors"}, format);
  MoeOptions o;
  const bool mixtral = meta["model_type"] == "mixtral";
  o.num_experts = cfg[mixtral ? "num_local_experts" : "num_experts"].get<int>();
  o.top_k = cfg["num_experts_per_tok"].get<int>();
  o.norm_topk_prob = mixtral ? true : cfg["norm_topk_prob"].get<bool>();
  o.act = parse_activation(meta["hidden_act"].get<std::string>(), "test");
  const int64_t H = cfg["hidden_size"].get<int64_t>();
  const int64_t I = cfg[mixtral ? "intermediate_size" : "moe_intermediate_size"].get<int64_t>();
  const int64_t shared = cfg.value("shared_expert_intermediate_size", int64_t(0));
  MoeNames names = mixtral ? MoeNames::mixtral() : MoeNames{};
  if (shared) {
    names.shared_prefix = "shared_expert.";
    names.shared_gate = "shared_expert_gate.weight";
  }
  WeightStore& s = *l.store;
  l.moe = MoE(o, names, "", H, I, shared, [&](const std::string& n, const Shape& sh) { return s.require(n, sh); },
              [&](const std::string& n, const Shape& sh) { return s.require_matrix(n, sh); });
  l.input = s.require("input");
  l.output = s.require("output");
  return l;
}

class MoeBlock : public ::testing::TestWithParam<std::string> {};

TEST_P(MoeBlock, MatchesTransformersModule) {
  Loaded l = load_case(GetParam(), WeightFormat::kAuto);
  const int64_t N = l.input.dim(0), H = l.input.dim(1);
  std::vector<float> out(size_t(N * H), 0.f);
  MoeScratch scratch;
  l.moe.forward(l.input.data, N, out.data(), scratch);
  float max_ref = 0.f, max_diff = 0.f;
  for (int64_t i = 0; i < N * H; ++i) {
    max_ref = std::max(max_ref, std::abs(l.output.data[i]));
    max_diff = std::max(max_diff, std::abs(out[i] - l.output.data[i]));
  }
  EXPECT_LE(max_diff, 1e-5f * std::max(1.f, max_ref)) << GetParam();
  // forward_accumulate adds the same to what is there.
  std::vector<float> acc(size_t(N * H), 1.f);
  l.moe.forward_accumulate(l.input.data, N, acc.data(), scratch);
  for (int64_t i = 0; i < N * H; ++i) ASSERT_NEAR(acc[i], 1.f + out[i], 1e-5f);
  // One token at a time (a decode step) gives each token's row.
  for (int64_t t = 0; t < N; ++t) {
    std::vector<float> row(static_cast<size_t>(H));
    l.moe.forward(l.input.data + t * H, 1, row.data(), scratch);
    // The same up to float rounding: one row and a block of rows go through different kernels
    // (a single row's dot products vs the broadcast kernel's), which sum in another order: a few
    // ulps of the block's largest values (an output is a sum of such terms).
    for (int64_t j = 0; j < H; ++j)
      ASSERT_NEAR(row[j], out[t * H + j], 1e-6f * std::max(1.f, max_ref)) << "token " << t;
  }
}

TEST_P(MoeBlock, RoutingPicksTopKInScoreOrder) {
  Loaded l = load_case(GetParam(), WeightFormat::kAuto);
  MoeScratch s;
  const int64_t N = l.input.dim(0);
  l.moe.route(l.input.data, N, s);
  const int K = l.moe.options().top_k, E = l.moe.options().num_experts;
  for (int64_t t = 0; t < N; ++t) {
    std::vector<int> seen;
    float sum = 0.f;
    for (int k = 0; k < K; ++k) {
      const int e = s.top_index[t * K + k];
      ASSERT_GE(e, 0);
      ASSERT_LT(e, E);
      seen.push_back(e);
      sum += s.top_weight[t * K + k];
      if (k) {
        EXPECT_LE(s.top_weight[t * K + k], s.top_weight[t * K + k - 1]);
      }
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end()) << "an expert chosen twice";
    if (l.moe.options().norm_topk_prob) EXPECT_NEAR(sum, 1.f, 1e-6f);
    else EXPECT_LT(sum, 1.f);
  }
}

// int8 per expert (one scale per output row of every expert matrix): close to float32.
TEST_P(MoeBlock, Int8ExpertsStayClose) {
  Loaded f = load_case(GetParam(), WeightFormat::kAuto);
  Loaded q = load_case(GetParam(), WeightFormat::kInt8);
  const int64_t N = f.input.dim(0), H = f.input.dim(1);
  std::vector<float> a(size_t(N * H)), b(size_t(N * H));
  MoeScratch s;
  f.moe.forward(f.input.data, N, a.data(), s);
  q.moe.forward(q.input.data, N, b.data(), s);
  double num = 0, den = 0;
  for (int64_t i = 0; i < N * H; ++i) {
    num += double(a[i] - b[i]) * (a[i] - b[i]);
    den += double(a[i]) * a[i];
  }
  EXPECT_LT(std::sqrt(num / den), 0.05) << "relative RMS error of int8 experts";
  EXPECT_GT(std::sqrt(num / den), 0.0) << "int8 was not applied";
}

INSTANTIATE_TEST_SUITE_P(Transformers, MoeBlock, ::testing::Values("mixtral", "qwen2_moe", "qwen3_moe"));

// The sigmoid router (DeepSeek-V3 / GLM-4.5 MoE): weights are the sigmoid scores of the experts
// chosen by score + e_score_correction_bias among the best groups, renormalised and scaled.
TEST(MoeRouter, SigmoidWithCorrectionBiasAndGroups) {
  // 4 experts in 2 groups, hidden 2; logits = W·x with x = (1, 0): the first column of W.
  std::vector<float> w = {2.f, 0.f, -1.f, 0.f, 0.5f, 0.f, 1.5f, 0.f};  // (4, 2)
  std::vector<float> bias = {0.f, 3.f, 0.f, 0.f};                       // pushes expert 1 up
  MoeOptions o;
  o.num_experts = 4;
  o.top_k = 2;
  o.router = MoeOptions::Router::kSigmoid;
  o.n_group = 2;
  o.topk_group = 1;
  o.routed_scaling_factor = 2.5f;
  o.norm_topk_prob = true;
  MoeNames names;
  names.correction_bias = "gate.e_score_correction_bias";
  std::vector<float> zeros(16, 0.f);
  auto lookup = [&](const std::string& n, const Shape& s) {
    if (n == "gate.weight") return TensorView{w.data(), s};
    if (n == "gate.e_score_correction_bias") return TensorView{bias.data(), s};
    return TensorView{zeros.data(), s};
  };
  MoE moe(o, names, "", 2, 2, 0, lookup, lookup);
  MoeScratch s;
  const float x[2] = {1.f, 0.f};
  moe.route(x, 1, s);
  // Group 0 (experts 0, 1): choice scores σ(2), σ(-1)+3 → best group; group 1 is masked.
  auto sig = [](float v) { return 1.f / (1.f + std::exp(-v)); };
  EXPECT_EQ(s.top_index[0], 1);  // σ(-1) + 3 ranks first
  EXPECT_EQ(s.top_index[1], 0);
  const float sum = sig(-1.f) + sig(2.f);
  EXPECT_NEAR(s.top_weight[0], sig(-1.f) / sum * 2.5f, 1e-6f);  // the weight is the score without bias
  EXPECT_NEAR(s.top_weight[1], sig(2.f) / sum * 2.5f, 1e-6f);
}

}  // namespace
}  // namespace autolm
