#include "nn/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autolm/error.h"
#include "ops/linear.h"
#include "ops/softmax.h"
#include "core/check.h"

namespace autolm {

namespace {

std::string expert_name(const std::string& pattern, int e) {
  std::string s = pattern;
  const size_t at = s.find("{e}");
  if (at != std::string::npos) s.replace(at, 3, std::to_string(e));
  return s;
}

MoeExpert load_expert(const MoeNames& n, const std::string& prefix, int e, int64_t hidden, int64_t inter,
                      const WeightLookup& matrix) {
  MoeExpert x;
  x.gate_proj = matrix(prefix + expert_name(n.gate_proj, e), {inter, hidden});
  x.up_proj = matrix(prefix + expert_name(n.up_proj, e), {inter, hidden});
  x.down_proj = matrix(prefix + expert_name(n.down_proj, e), {hidden, inter});
  return x;
}

}  // namespace

void gated_mlp(const MoeExpert& ex, Activation act, const float* x, int64_t rows, float* y, MoeScratch& s) {
  static const TensorView kNoBias;
  const int64_t inter = ex.gate_proj.shape[0];
  float* gate = s.gate.resize(rows * inter);  // (rows, intermediate)
  float* up = s.up.resize(rows * inter);
  linear_fused(x, rows, {{ex.gate_proj, kNoBias, gate}, {ex.up_proj, kNoBias, up}});
  activate_gated(act, gate, up, rows * inter);
  linear(up, rows, ex.down_proj, kNoBias, y);
}

MoeNames MoeNames::mixtral() {
  MoeNames n;
  n.gate_proj = "experts.{e}.w1.weight";
  n.up_proj = "experts.{e}.w3.weight";
  n.down_proj = "experts.{e}.w2.weight";
  return n;
}

MoE::MoE(const MoeOptions& options, const MoeNames& names, const std::string& prefix, int64_t hidden,
         int64_t intermediate, int64_t shared_intermediate, const WeightLookup& vector, const WeightLookup& matrix)
    : options_(options), hidden_(hidden), intermediate_(intermediate), shared_intermediate_(shared_intermediate) {
  const int E = options.num_experts;
  AUTOLM_CHECK(E > 0 && options.top_k > 0 && options.top_k <= E, "MoE options validated by the model");
  AUTOLM_CHECK(options.n_group > 0 && E % options.n_group == 0 && options.topk_group <= options.n_group,
               "MoE groups validated by the model");
  // The router (and the shared expert's gate) stay float32 under int8: a quantized router would
  // flip near-tied expert choices, the small matrix costs nothing to keep exact (llama.cpp also
  // keeps ffn_gate_inp in F32).
  router_ = vector(prefix + names.router, {E, hidden});
  if (options.router == MoeOptions::Router::kSigmoid && !names.correction_bias.empty())
    correction_bias_ = vector(prefix + names.correction_bias, {E});
  experts_.reserve(size_t(E));
  for (int e = 0; e < E; ++e) experts_.push_back(load_expert(names, prefix, e, hidden, intermediate, matrix));
  if (shared_intermediate > 0) {
    MoeNames s;  // the shared expert is a plain gated MLP: gate_proj / up_proj / down_proj
    s.gate_proj = "gate_proj.weight";
    s.up_proj = "up_proj.weight";
    s.down_proj = "down_proj.weight";
    shared_ = load_expert(s, prefix + names.shared_prefix, 0, hidden, shared_intermediate, matrix);
    if (!names.shared_gate.empty()) shared_gate_ = vector(prefix + names.shared_gate, {1, hidden});
  }
}

void MoE::route(const float* x, int64_t tokens, MoeScratch& s) const {
  static const TensorView kNoBias;
  const int E = options_.num_experts, K = options_.top_k;
  float* logits = s.router_logits.resize(tokens * E);  // (tokens, num_experts)
  linear(x, tokens, router_, kNoBias, logits);
  s.top_index.resize(size_t(tokens * K));
  s.top_weight.resize(size_t(tokens * K));
  std::vector<int32_t>& order = s.order;  // (num_experts) expert ids by score
  std::vector<float>& choice = s.choice;  // (num_experts) scores the selection ranks
  order.resize(size_t(E));
  choice.resize(size_t(E));
  for (int64_t t = 0; t < tokens; ++t) {
    float* p = logits + t * E;
    // Equivalent in modeling_mixtral.py: softmax(router_logits.float()), then topk over it.
    if (options_.router == MoeOptions::Router::kSoftmax) {
      softmax(p, E);
      std::copy(p, p + E, choice.begin());
    } else {
      // Equivalent in modeling_deepseek_v3.py: scores = sigmoid(logits); choose by scores +
      // e_score_correction_bias within the best topk_group groups (sum of each group's top 2).
      for (int e = 0; e < E; ++e) {
        p[e] = 1.f / (1.f + std::exp(-p[e]));
        choice[e] = p[e] + (correction_bias_.empty() ? 0.f : correction_bias_.data[e]);
      }
      const int G = options_.n_group, per = E / G;
      if (G > 1) {
        std::vector<float>& group_score = s.group_score;  // (n_group) sum of each group's top 2
        group_score.assign(size_t(G), 0.f);
        for (int g = 0; g < G; ++g) {
          float a = -INFINITY, b = -INFINITY;
          for (int e = g * per; e < (g + 1) * per; ++e) {
            if (choice[e] > a) b = a, a = choice[e];
            else if (choice[e] > b) b = choice[e];
          }
          group_score[g] = a + (per > 1 ? b : 0.f);
        }
        std::vector<int32_t>& groups = s.groups;
        groups.resize(size_t(G));
        std::iota(groups.begin(), groups.end(), 0);
        std::stable_sort(groups.begin(), groups.end(), [&](int a, int b) { return group_score[a] > group_score[b]; });
        for (int i = options_.topk_group; i < G; ++i)
          for (int e = groups[i] * per; e < (groups[i] + 1) * per; ++e) choice[e] = -INFINITY;
      }
    }
    std::iota(order.begin(), order.end(), 0);
    // torch.topk: descending, ties to the lower index.
    std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int32_t a, int32_t b) {
      return choice[a] > choice[b] || (choice[a] == choice[b] && a < b);
    });
    float sum = 0.f;
    for (int k = 0; k < K; ++k) sum += p[order[k]];
    const bool sigmoid = options_.router == MoeOptions::Router::kSigmoid;
    for (int k = 0; k < K; ++k) {
      float w = p[order[k]];
      if (options_.norm_topk_prob) w /= sigmoid ? sum + 1e-20f : sum;
      if (sigmoid) w *= options_.routed_scaling_factor;
      s.top_index[t * K + k] = order[k];
      s.top_weight[t * K + k] = w;
    }
  }
}

void MoE::forward(const float* x, int64_t tokens, float* out, MoeScratch& s) const {
  const int E = options_.num_experts, K = options_.top_k;
  const int64_t H = hidden_;
  route(x, tokens, s);
  std::fill(out, out + tokens * H, 0.f);
  // Equivalent in MixtralExperts.forward: each expert that any token chose runs once on its
  // tokens, in expert order, and adds weight × output to those tokens (index_add_).
  for (int e = 0; e < E; ++e) {
    s.members.clear();
    s.member_weight.clear();
    for (int64_t t = 0; t < tokens; ++t)
      for (int k = 0; k < K; ++k)
        if (s.top_index[t * K + k] == e) {
          s.members.push_back(t);
          s.member_weight.push_back(s.top_weight[t * K + k]);
        }
    const int64_t n = int64_t(s.members.size());
    if (n == 0) continue;
    float* rows = s.rows.resize(n * H);  // (tokens of expert e, hidden)
    for (int64_t i = 0; i < n; ++i) std::copy(x + s.members[i] * H, x + (s.members[i] + 1) * H, rows + i * H);
    float* y = s.down.resize(n * H);
    gated_mlp(experts_[e], options_.act, rows, n, y, s);
    for (int64_t i = 0; i < n; ++i) {
      float* o = out + s.members[i] * H;
      const float w = s.member_weight[i];
      for (int64_t j = 0; j < H; ++j) o[j] += y[i * H + j] * w;
    }
  }
  if (shared_intermediate_ == 0) return;
  // Qwen2MoeSparseMoeBlock: + sigmoid(shared_expert_gate(x)) * shared_expert(x);
  // DeepseekV3MoE: + shared_experts(x).
  float* y = s.down.resize(tokens * H);
  gated_mlp(shared_, options_.act, x, tokens, y, s);
  float* g = nullptr;
  if (!shared_gate_.empty()) {
    static const TensorView kNoBias;
    g = s.shared_gate.resize(tokens);  // (tokens, 1)
    linear(x, tokens, shared_gate_, kNoBias, g);
  }
  for (int64_t t = 0; t < tokens; ++t) {
    const float w = g ? 1.f / (1.f + std::exp(-g[t])) : 1.f;
    for (int64_t j = 0; j < H; ++j) out[t * H + j] += w * y[t * H + j];
  }
}

void MoE::forward_accumulate(const float* x, int64_t tokens, float* out, MoeScratch& s) const {
  // Computed apart and then added, as the decoder layer does (residual + moe(x)).
  float* y = s.result.resize(tokens * hidden_);  // (tokens, hidden)
  forward(x, tokens, y, s);
  for (int64_t i = 0; i < tokens * hidden_; ++i) out[i] += y[i];
}

}  // namespace autolm
