// The nn blocks on their own, against straightforward double-precision definitions of what
// transformers computes (LlamaRMSNorm, nn.LayerNorm, LlamaMLP, eager attention, lm_head, T5's
// relative position buckets).
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <map>
#include <random>

#include "nn/attention.h"
#include "nn/cross_attention.h"
#include "nn/embedding.h"
#include "nn/lm_head.h"
#include "nn/longformer_attention.h"
#include "nn/mlp.h"
#include "nn/norm.h"
#include "nn/relative_position_bias.h"
#include "nn/self_attention.h"

namespace autolm {
namespace {

// Weights by name, float32, with the WeightSource contract's shape checks.
class MapWeights final : public WeightSource {
 public:
  std::vector<float>& add(const std::string& name, Shape shape, uint32_t seed = 1) {
    std::mt19937 rng(seed + uint32_t(tensors_.size()) * 7919u);
    std::normal_distribution<float> d(0.f, 0.5f);
    auto& t = tensors_[name];
    t.shape = shape;
    t.values.resize(size_t(numel(shape)));
    for (float& v : t.values) v = d(rng);
    return t.values;
  }
  bool has(const std::string& name) const override { return tensors_.count(name) > 0; }
  TensorView require(const std::string& name, const Shape& expected) override {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw Error(ErrorKind::kNotFound, "missing tensor " + name);
    if (!expected.empty() && it->second.shape != expected)
      throw Error(ErrorKind::kInvalidInput, name + " has shape " + shape_str(it->second.shape) + ", expected " + shape_str(expected));
    return TensorView{it->second.values.data(), it->second.shape};
  }
  TensorView optional(const std::string& name, const Shape& expected) override {
    return has(name) ? require(name, expected) : TensorView{};
  }
  TensorView require_matrix(const std::string& name, const Shape& expected) override { return require(name, expected); }
  TensorView require_transposed(const std::string& name, const Shape& file_shape) override {
    TensorView t = require(name, file_shape);
    auto& out = transposed_.emplace_back(size_t(t.numel()));
    for (int64_t i = 0; i < file_shape[0]; ++i)
      for (int64_t o = 0; o < file_shape[1]; ++o) out[o * file_shape[0] + i] = t.data[i * file_shape[1] + o];
    return TensorView{out.data(), {file_shape[1], file_shape[0]}};
  }
  TensorView lm_head(const std::string& head_name, const TensorView& embedding, const std::string&, bool tied,
                     const Shape& shape) override {
    return tied && !has(head_name) ? embedding : require(head_name, shape);
  }
  const std::vector<float>& at(const std::string& name) const { return tensors_.at(name).values; }

 private:
  struct T {
    Shape shape;
    std::vector<float> values;
  };
  std::map<std::string, T> tensors_;
  std::deque<std::vector<float>> transposed_;
};

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// y = x · Wᵀ + b in double.
std::vector<double> ref_linear(const std::vector<double>& x, int64_t rows, const std::vector<float>& W, int64_t out,
                               const std::vector<float>* b = nullptr) {
  const int64_t in = int64_t(x.size()) / rows;
  std::vector<double> y(size_t(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = b ? (*b)[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * W[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

std::vector<double> to_double(const float* x, size_t n) { return std::vector<double>(x, x + n); }

void expect_near(const float* got, const std::vector<double>& want, double tol, const std::string& what) {
  double max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, std::abs(got[i] - want[i]));
  EXPECT_LE(max_diff, tol) << what;
}

TEST(NormBlock, RmsNormAndGemmaUnitOffset) {
  MapWeights w;
  const auto& g = w.add("n.weight", {8});
  const auto x = random_vector(3 * 8, 2);
  for (bool offset : {false, true}) {
    NormOptions o;
    o.eps = 1e-5f;
    o.unit_offset = offset;
    Norm n = Norm::load(w, "n", 8, o);
    std::vector<float> y(x.size());
    n.forward(x.data(), 3, y.data());
    std::vector<double> want(x.size());
    for (int r = 0; r < 3; ++r) {
      double ss = 0;
      for (int i = 0; i < 8; ++i) ss += double(x[r * 8 + i]) * x[r * 8 + i];
      for (int i = 0; i < 8; ++i) want[r * 8 + i] = x[r * 8 + i] / std::sqrt(ss / 8 + 1e-5) * (offset ? 1 + g[i] : g[i]);
    }
    expect_near(y.data(), want, 1e-5, offset ? "1 + w" : "w");
  }
}

TEST(NormBlock, LayerNormWithAndWithoutAffineAndPerGroupWeights) {
  MapWeights w;
  const auto& g = w.add("ln.weight", {2, 4});  // per-group (Cohere per-head) weights
  const auto& b = w.add("ln.bias", {2, 4});
  const auto x = random_vector(4 * 4, 3);  // 4 rows: groups 0, 1, 0, 1
  auto ln = [&](int r, bool affine) {
    std::vector<double> out(4);
    double mean = 0, var = 0;
    for (int i = 0; i < 4; ++i) mean += x[r * 4 + i] / 4.0;
    for (int i = 0; i < 4; ++i) var += (x[r * 4 + i] - mean) * (x[r * 4 + i] - mean) / 4.0;
    for (int i = 0; i < 4; ++i) {
      const double xh = (x[r * 4 + i] - mean) / std::sqrt(var + 1e-5);
      out[i] = affine ? xh * g[(r % 2) * 4 + i] + b[(r % 2) * 4 + i] : xh;
    }
    return out;
  };
  NormOptions o{NormKind::kLayer, 1e-5f, false, true, true};
  std::vector<float> y(x.size());
  Norm::load(w, "ln", 4, o, 2).forward(x.data(), 4, y.data());
  std::vector<double> want;
  for (int r = 0; r < 4; ++r) for (double v : ln(r, true)) want.push_back(v);
  expect_near(y.data(), want, 1e-5, "per-group affine");
  // OLMo: LayerNorm(elementwise_affine=False) needs no tensor at all.
  NormOptions bare{NormKind::kLayer, 1e-5f, false, false, false};
  Norm::load(w, "absent", 4, bare).forward(x.data(), 4, y.data());
  want.clear();
  for (int r = 0; r < 4; ++r) for (double v : ln(r, false)) want.push_back(v);
  expect_near(y.data(), want, 1e-5, "non-parametric");
}

TEST(EmbeddingBlock, ScaleLearnedPositionsWithOffsetAndBounds) {
  MapWeights w;
  const auto& tok = w.add("wte", {5, 4});
  const auto& pos = w.add("wpe", {3 + 2, 4});
  EmbeddingOptions o;
  o.scale = 2.f;
  o.positions = PositionEmbedding::kLearned;
  o.max_positions = 3;
  o.position_offset = 2;  // OPT / BART
  Embedding e = Embedding::load(w, "wte", 5, 4, o, "wpe");
  std::vector<int32_t> ids = {4, 1};
  std::vector<int64_t> positions = {0, 2};
  std::vector<float> out(8);
  e.forward(ids, positions, out.data());
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 4; ++i)
      EXPECT_FLOAT_EQ(out[n * 4 + i], tok[ids[n] * 4 + i] * 2.f + pos[(positions[n] + 2) * 4 + i]);
  positions = {0, 3};
  EXPECT_THROW(e.forward(ids, positions, out.data()), Error);
}

TEST(EmbeddingBlock, SinusoidalTables) {
  // Marian: row 0 is sin(0) = 0 in the first half, cos(0) = 1 in the second.
  auto m = sinusoidal_table(SinusoidalLayout::kMarian, 4, 6);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(m[i], 0.f);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(m[i], 1.f);
  EXPECT_FLOAT_EQ(m[6 * 2 + 1], float(std::sin(2 / std::pow(10000.0, 2.0 / 6))));
  // fairseq: the padding row stays zero; angles pos · exp(-i ln(10000) / (half - 1)).
  auto f = sinusoidal_table(SinusoidalLayout::kFairseq, 4, 6, 1);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f[6 + i], 0.f);
  EXPECT_FLOAT_EQ(f[6 * 3 + 2], std::sin(3.f * std::exp(2.f * -float(std::log(10000.0) / 2))));
}

// down(act(gate(x)) * up(x)) in double, SiLU.
std::vector<double> ref_gated_mlp(const std::vector<float>& x, int64_t rows, const std::vector<float>& gate,
                                  const std::vector<float>& up, const std::vector<float>& down, int64_t H, int64_t I) {
  auto xd = to_double(x.data(), x.size());
  auto g = ref_linear(xd, rows, gate, I), u = ref_linear(xd, rows, up, I);
  for (size_t i = 0; i < g.size(); ++i) u[i] *= g[i] / (1 + std::exp(-g[i]));
  return ref_linear(u, rows, down, H);
}

TEST(MlpBlock, GatedSeparateAndFusedAgree) {
  const int64_t H = 8, I = 16, N = 3;
  MapWeights w;
  const auto& gate = w.add("a.gate_proj.weight", {I, H});
  const auto& up = w.add("a.up_proj.weight", {I, H});
  const auto& down = w.add("a.down_proj.weight", {H, I});
  auto& gu = w.add("b.gate_up_proj.weight", {2 * I, H});
  std::copy(gate.begin(), gate.end(), gu.begin());
  std::copy(up.begin(), up.end(), gu.begin() + I * H);
  w.add("b.down_proj.weight", {H, I}) = down;
  const auto x = random_vector(size_t(N * H), 4);
  const auto want = ref_gated_mlp(x, N, gate, up, down, H, I);
  Workspace ws;
  for (const char* p : {"a.", "b."}) {
    Mlp m = Mlp::load(w, p, H, I, MlpOptions{});
    std::vector<float> out(size_t(N * H), 1.f);
    m.forward(x.data(), N, ws, out.data(), false);
    expect_near(out.data(), want, 1e-4, p);
    m.forward(x.data(), N, ws, out.data(), true);  // accumulate: out += mlp(x)
    std::vector<double> twice(want);
    for (double& v : twice) v *= 2;
    expect_near(out.data(), twice, 2e-4, std::string(p) + " accumulate");
  }
}

TEST(MlpBlock, PlainWithBiasesAndConv1DWeights) {
  const int64_t H = 4, I = 8, N = 2;
  MapWeights w;
  const auto& fc = w.add("m.c_fc.weight", {H, I});  // Conv1D (in, out)
  const auto& fc_b = w.add("m.c_fc.bias", {I});
  const auto& proj = w.add("m.c_proj.weight", {I, H});
  const auto& proj_b = w.add("m.c_proj.bias", {H});
  MlpOptions o;
  o.gated = false;
  o.act = Activation::kRelu;
  o.bias = true;
  o.transposed = true;
  MlpNames names;
  names.up = "c_fc";
  names.down = "c_proj";
  Mlp m = Mlp::load(w, "m.", H, I, o, names);
  const auto x = random_vector(size_t(N * H), 5);
  std::vector<float> out(size_t(N * H));
  Workspace ws;
  m.forward(x.data(), N, ws, out.data(), false);
  std::vector<double> want(size_t(N * H));
  for (int n = 0; n < N; ++n) {
    std::vector<double> h(I);
    for (int o2 = 0; o2 < I; ++o2) {
      double s = fc_b[o2];
      for (int i = 0; i < H; ++i) s += double(x[n * H + i]) * fc[i * I + o2];
      h[o2] = std::max(0.0, s);
    }
    for (int o2 = 0; o2 < H; ++o2) {
      double s = proj_b[o2];
      for (int i = 0; i < I; ++i) s += h[i] * proj[i * H + o2];
      want[n * H + o2] = s;
    }
  }
  expect_near(out.data(), want, 1e-4, "plain");
}

// Eager causal attention (no positions) for one row of T tokens, in double.
std::vector<double> ref_attention(const std::vector<float>& x, int T, int64_t H, int heads, int kv_heads, int D,
                                  const std::vector<float>& Wq, const std::vector<float>& Wk, const std::vector<float>& Wv,
                                  const std::vector<float>& Wo, double scale, double softcap, const float* sinks) {
  auto xd = to_double(x.data(), x.size());
  auto q = ref_linear(xd, T, Wq, heads * D), k = ref_linear(xd, T, Wk, kv_heads * D), v = ref_linear(xd, T, Wv, kv_heads * D);
  std::vector<double> attn(size_t(T) * heads * D, 0.0);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < heads; ++h) {
      const int g = h / (heads / kv_heads);
      std::vector<double> s(t + 1);
      double mx = sinks ? sinks[h] : -1e300;
      for (int j = 0; j <= t; ++j) {
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += q[(t * heads + h) * D + d] * k[(j * kv_heads + g) * D + d];
        s[j] = dot * scale;
        if (softcap > 0) s[j] = std::tanh(s[j] / softcap) * softcap;
        mx = std::max(mx, s[j]);
      }
      double sum = sinks ? std::exp(sinks[h] - mx) : 0.0;
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int j = 0; j <= t; ++j)
        for (int d = 0; d < D; ++d) attn[(t * heads + h) * D + d] += s[j] / sum * v[(j * kv_heads + g) * D + d];
    }
  return ref_linear(attn, T, Wo, H);
}

struct AttnCase {
  int heads, kv_heads;
  float softcap;
  bool sinks;
};

class SelfAttentionBlock : public ::testing::TestWithParam<AttnCase> {};

// Prefill of T tokens and the same tokens one step at a time both match eager attention;
// separate, fused [q; k; v] and per-group fused layouts give the same result.
TEST_P(SelfAttentionBlock, MatchesEagerAttentionInEveryLayout) {
  const AttnCase c = GetParam();
  const int64_t H = 16;
  const int D = 4, T = 5;
  const int64_t q_out = int64_t(c.heads) * D, kv_out = int64_t(c.kv_heads) * D;
  MapWeights w;
  const auto& Wq = w.add("s.q_proj.weight", {q_out, H});
  const auto& Wk = w.add("s.k_proj.weight", {kv_out, H});
  const auto& Wv = w.add("s.v_proj.weight", {kv_out, H});
  const auto& Wo = w.add("s.o_proj.weight", {H, q_out});
  if (c.sinks) w.add("s.sinks", {c.heads});
  auto& fused = w.add("f.qkv_proj.weight", {q_out + 2 * kv_out, H});
  std::copy(Wq.begin(), Wq.end(), fused.begin());
  std::copy(Wk.begin(), Wk.end(), fused.begin() + q_out * H);
  std::copy(Wv.begin(), Wv.end(), fused.begin() + (q_out + kv_out) * H);
  auto& grouped = w.add("g.qkv_proj.weight", {q_out + 2 * kv_out, H});
  const int per = c.heads / c.kv_heads;
  for (int g = 0; g < c.kv_heads; ++g) {
    float* dst = grouped.data() + int64_t(g) * (per + 2) * D * H;
    std::copy(Wq.begin() + g * per * D * H, Wq.begin() + (g + 1) * per * D * H, dst);
    std::copy(Wk.begin() + g * D * H, Wk.begin() + (g + 1) * D * H, dst + per * D * H);
    std::copy(Wv.begin() + g * D * H, Wv.begin() + (g + 1) * D * H, dst + (per + 1) * D * H);
  }
  for (const char* p : {"f.", "g."}) {
    w.add(std::string(p) + "o_proj.weight", {H, q_out}) = Wo;
    if (c.sinks) w.add(std::string(p) + "sinks", {c.heads}) = w.at("s.sinks");
  }
  const auto x = random_vector(size_t(T * H), 6);
  const float scale = 1.f / std::sqrt(float(D));
  const auto want = ref_attention(x, T, H, c.heads, c.kv_heads, D, Wq, Wk, Wv, Wo, scale, c.softcap,
                                  c.sinks ? w.at("s.sinks").data() : nullptr);
  std::vector<int64_t> positions(T);
  for (int t = 0; t < T; ++t) positions[t] = t;
  for (auto [p, layout] : {std::pair{"s.", QkvLayout::kSeparate}, {"f.", QkvLayout::kFused}, {"g.", QkvLayout::kGrouped}}) {
    SelfAttentionOptions o;
    o.hidden_size = H;
    o.num_heads = c.heads;
    o.num_kv_heads = c.kv_heads;
    o.head_dim = D;
    o.scale = scale;
    o.layout = layout;
    o.softcap = c.softcap;
    o.sinks = c.sinks;
    SelfAttention a = SelfAttention::load(w, p, o);
    Workspace ws;
    {
      KVCache cache(1, 1, c.kv_heads, T, D);
      const int start = cache.append(T);
      for (int t = 0; t < T; ++t) cache.key_valid(0)[t] = 1;
      std::vector<float> out(size_t(T * H));
      a.forward(x.data(), 1, T, start, positions, cache, 0, ws, out.data(), false);
      expect_near(out.data(), want, 1e-4, std::string(p) + " prefill");
    }
    KVCache cache(1, 1, c.kv_heads, T, D);
    std::vector<float> out(static_cast<size_t>(H));
    for (int t = 0; t < T; ++t) {
      const int start = cache.append(1);
      cache.key_valid(0)[start] = 1;
      a.forward(x.data() + t * H, 1, 1, start, std::span(positions).subspan(t, 1), cache, 0, ws, out.data(), false);
      expect_near(out.data(), std::vector<double>(want.begin() + t * H, want.begin() + (t + 1) * H), 1e-4,
                  std::string(p) + " step " + std::to_string(t));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Heads, SelfAttentionBlock,
                         ::testing::Values(AttnCase{4, 4, 0.f, false}, AttnCase{4, 2, 0.f, false},  // MHA, GQA
                                           AttnCase{4, 1, 0.f, false},                             // MQA
                                           AttnCase{2, 2, 0.5f, false},                            // softcap
                                           AttnCase{4, 2, 0.f, true}));                            // sinks

// The q/k norm variants load the weight shape they name and change the attention result.
TEST(SelfAttentionBlockNorms, QkNormVariants) {
  const int64_t H = 8;
  const int D = 4, heads = 2;
  MapWeights w;
  w.add("a.q_proj.weight", {heads * D, H});
  w.add("a.k_proj.weight", {heads * D, H});
  w.add("a.v_proj.weight", {heads * D, H});
  w.add("a.o_proj.weight", {H, heads * D});
  w.add("a.q_norm.weight", {D});
  w.add("a.k_norm.weight", {D});
  // Per head with one weight equals per head with that weight repeated for every head.
  auto& qd = w.add("b.q_norm.weight", {heads, D});
  auto& kd = w.add("b.k_norm.weight", {heads, D});
  for (int h = 0; h < heads; ++h) {
    std::copy(w.at("a.q_norm.weight").begin(), w.at("a.q_norm.weight").end(), qd.begin() + h * D);
    std::copy(w.at("a.k_norm.weight").begin(), w.at("a.k_norm.weight").end(), kd.begin() + h * D);
  }
  for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    const auto& src = w.at(std::string("a.") + n + ".weight");
    w.add(std::string("b.") + n + ".weight", {n[0] == 'o' ? H : heads * D, n[0] == 'o' ? heads * D : H}) = src;
  }
  const auto x2 = random_vector(size_t(3 * H), 8);
  std::vector<int64_t> positions = {0, 1, 2};
  auto run = [&](const char* p, QkNorm kind) {
    SelfAttentionOptions o;
    o.hidden_size = H;
    o.num_heads = o.num_kv_heads = heads;
    o.head_dim = D;
    o.scale = 0.5f;
    o.qk_norm = kind;
    SelfAttention a = SelfAttention::load(w, p, o);
    KVCache cache(1, 1, heads, 3, D);
    const int start = cache.append(3);
    for (int t = 0; t < 3; ++t) cache.key_valid(0)[t] = 1;
    Workspace ws;
    std::vector<float> out(static_cast<size_t>(3 * H));
    a.forward(x2.data(), 1, 3, start, positions, cache, 0, ws, out.data(), false);
    return out;
  };
  const auto per_head = run("a.", QkNorm::kPerHead), distinct = run("b.", QkNorm::kPerHeadDistinct),
             none = run("a.", QkNorm::kNone);
  for (size_t i = 0; i < per_head.size(); ++i) EXPECT_FLOAT_EQ(per_head[i], distinct[i]);
  double diff = 0;
  for (size_t i = 0; i < per_head.size(); ++i) diff = std::max(diff, double(std::abs(per_head[i] - none[i])));
  EXPECT_GT(diff, 1e-3) << "the q/k norm must change the result";
  // kFull over (num_heads*head_dim): its weight has that shape, and loading checks it.
  w.add("c.q_norm.weight", {heads * D});
  w.add("c.k_norm.weight", {heads * D});
  for (const char* n : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
    const auto& src = w.at(std::string("a.") + n + ".weight");
    w.add(std::string("c.") + n + ".weight", {n[0] == 'o' ? H : heads * D, n[0] == 'o' ? heads * D : H}) = src;
  }
  EXPECT_NO_THROW(run("c.", QkNorm::kFull));
  EXPECT_THROW(run("a.", QkNorm::kFull), Error);  // (head_dim) weight where (num_heads*head_dim) is expected
}

TEST(LmHeadBlock, TiedLastPositionsScalingAndSoftcap) {
  const int64_t V = 6, H = 4;
  MapWeights w;
  const auto& emb = w.add("embed", {V, H});
  w.add("model.norm.weight", {H});
  const TensorView embedding{emb.data(), {V, H}};
  const auto hidden = random_vector(size_t(2 * 3 * H), 9);  // batch 2 × seq_len 3
  LmHeadOptions plain;
  plain.tie_word_embeddings = true;
  LmHead base = LmHead::load(w, V, H, embedding, "embed", plain);
  Buffer normed, logits;
  auto all = base.forward(hidden.data(), 2, 3, true, normed, logits);
  const std::vector<float> all_logits(all.begin(), all.end());
  ASSERT_EQ(all_logits.size(), size_t(6 * V));
  // Each row's last position equals the all-positions row 2 and 5.
  auto last = base.forward(hidden.data(), 2, 3, false, normed, logits);
  ASSERT_EQ(last.size(), size_t(2 * V));
  for (int64_t i = 0; i < V; ++i) {
    EXPECT_FLOAT_EQ(last[i], all_logits[2 * V + i]);
    EXPECT_FLOAT_EQ(last[V + i], all_logits[5 * V + i]);
  }
  LmHeadOptions scaled = plain;
  scaled.logit_scale = 0.5f;      // Cohere
  scaled.logits_scaling = 4.f;    // Granite
  scaled.final_logit_softcapping = 1.5f;  // Gemma
  auto s = LmHead::load(w, V, H, embedding, "embed", scaled).forward(hidden.data(), 2, 3, true, normed, logits);
  for (size_t i = 0; i < all_logits.size(); ++i)
    EXPECT_NEAR(s[i], std::tanh(all_logits[i] * 0.5 / 4 / 1.5) * 1.5, 1e-6);
  // T5: the normed hidden state times d_model**-0.5 before the head: the logits scale with it.
  LmHeadOptions t5 = plain;
  t5.hidden_scale = 0.5f;
  auto h = LmHead::load(w, V, H, embedding, "embed", t5).forward(hidden.data(), 2, 3, true, normed, logits);
  for (size_t i = 0; i < all_logits.size(); ++i) EXPECT_NEAR(h[i], all_logits[i] * 0.5, 1e-5);
  // Untied without lm_head.weight: the missing tensor is an Error.
  LmHeadOptions untied = plain;
  untied.tie_word_embeddings = false;
  EXPECT_THROW(LmHead::load(w, V, H, embedding, "embed", untied), Error);
}

// T5Attention._relative_position_bucket, worked by hand from its definition (32 buckets,
// max_distance 128): half exact distances, half log-spaced; bidirectional splits them by sign.
TEST(RelativePositionBiasBlock, BucketsAndTableLayout) {
  EXPECT_EQ(relative_position_bucket(0, true, 32, 128), 0);
  EXPECT_EQ(relative_position_bucket(-1, true, 32, 128), 1);
  EXPECT_EQ(relative_position_bucket(1, true, 32, 128), 17);
  EXPECT_EQ(relative_position_bucket(7, true, 32, 128), 23);
  // 16 buckets per direction: 8 exact, then 8 + int(log(d / 8) / log(128 / 8) * 8).
  EXPECT_EQ(relative_position_bucket(-20, true, 32, 128), 8 + int(std::log(20.0 / 8) / std::log(16.0) * 8));
  EXPECT_EQ(relative_position_bucket(500, true, 32, 128), 31);
  EXPECT_EQ(relative_position_bucket(-500, true, 32, 128), 15);
  // Causal (decoder): keys after the query share bucket 0; 16 exact distances.
  EXPECT_EQ(relative_position_bucket(5, false, 32, 128), 0);
  EXPECT_EQ(relative_position_bucket(-15, false, 32, 128), 15);
  EXPECT_EQ(relative_position_bucket(-20, false, 32, 128), 16 + int(std::log(20.0 / 16) / std::log(8.0) * 16));
  EXPECT_EQ(relative_position_bucket(-1000, false, 32, 128), 31);

  MapWeights w;
  const auto& table = w.add("rel.weight", {8, 3});  // (num_buckets, num_heads)
  RelativePositionBiasOptions o{3, 8, 16, true};
  RelativePositionBias bias = RelativePositionBias::load(w, "rel.weight", o, false);
  const int R = 20;
  std::vector<float> filled(size_t(3 * (2 * R + 1)));
  bias.fill(R, filled.data());
  for (int rel = -R; rel <= R; ++rel)
    for (int h = 0; h < 3; ++h)
      EXPECT_EQ(filled[h * (2 * R + 1) + R + rel], table[relative_position_bucket(rel, true, 8, 16) * 3 + h]) << rel;
  EXPECT_TRUE(RelativePositionBias::load(w, "absent.weight", o, /*optional=*/true).empty());
  EXPECT_THROW(RelativePositionBias::load(w, "absent.weight", o, false), Error);
}

// A prompt long enough for several query blocks (1300 keys: blocks of 806 rows): only the keys a
// block can see go through the GEMMs; every row still matches eager attention (causal, causal
// sliding window, bidirectional window; one padding key).
TEST(Attention, LongPromptQueryBlocksSeeOnlyTheirKeys) {
  const int T = 1300, heads = 2, D = 2;
  const auto q = random_vector(size_t(T) * heads * D, 11);
  const auto k = random_vector(size_t(T) * D, 12), v = random_vector(size_t(T) * D, 13);
  std::vector<uint8_t> valid(T, 1);
  valid[900] = 0;
  KVSource kv;
  kv.k = [&](int, int) { return k.data(); };
  kv.v = [&](int, int) { return v.data(); };
  kv.key_valid = [&](int) { return valid.data(); };
  for (auto [causal, window] : {std::pair{true, 0}, {true, 100}, {false, 100}}) {
    AttentionSpec spec;
    spec.num_heads = heads;
    spec.num_kv_heads = 1;
    spec.head_dim = D;
    spec.scale = 0.7f;
    spec.causal = causal;
    spec.sliding_window = window;
    std::vector<float> out(size_t(T) * heads * D);
    attention(spec, 1, T, 0, q.data(), kv, T, out.data());
    std::vector<double> want(out.size(), 0.0);
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < heads; ++h) {
        std::vector<double> s(T, 0.0);
        double mx = -1e300, sum = 0;
        auto seen = [&](int j) {
          if (!valid[j]) return false;
          if (causal) return j <= t && (window == 0 || t - j < window);
          return std::abs(t - j) <= window;
        };
        for (int j = 0; j < T; ++j)
          if (seen(j)) {
            s[j] = spec.scale * (double(q[(t * heads + h) * D]) * k[j * D] + double(q[(t * heads + h) * D + 1]) * k[j * D + 1]);
            mx = std::max(mx, s[j]);
          }
        for (int j = 0; j < T; ++j)
          if (seen(j)) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j < T; ++j)
          if (seen(j))
            for (int d = 0; d < D; ++d) want[(t * heads + h) * D + d] += s[j] / sum * v[j * D + d];
      }
    expect_near(out.data(), want, 1e-5, "causal " + std::to_string(causal) + " window " + std::to_string(window));
  }
}

// Encoder self-attention (causal = false): every token sees the whole input, or with a sliding
// window the keys within it on both sides (|q - k| <= window, inclusive, as
// create_bidirectional_sliding_window_mask); padding keys are masked.
TEST(SelfAttentionBlock, BidirectionalAndBidirectionalWindow) {
  const int64_t H = 8;
  const int heads = 2, D = 4, T = 7;
  MapWeights w;
  const auto& Wq = w.add("s.q_proj.weight", {heads * D, H});
  const auto& Wk = w.add("s.k_proj.weight", {heads * D, H});
  const auto& Wv = w.add("s.v_proj.weight", {heads * D, H});
  const auto& Wo = w.add("s.o_proj.weight", {H, heads * D});
  const auto x = random_vector(size_t(T * H), 12);
  const auto xd = to_double(x.data(), x.size());
  const auto q = ref_linear(xd, T, Wq, heads * D), k = ref_linear(xd, T, Wk, heads * D), v = ref_linear(xd, T, Wv, heads * D);
  std::vector<int64_t> positions(T, 0);
  for (int window : {0, 2}) {
    std::vector<double> attn(size_t(T) * heads * D, 0.0);
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < heads; ++h) {
        std::vector<double> p(T, 0.0);
        double sum = 0;
        for (int j = 0; j < T; ++j) {
          if (j == 3 || (window > 0 && std::abs(t - j) > window)) continue;  // key 3 is padding
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += q[(t * heads + h) * D + d] * k[(j * heads + h) * D + d];
          sum += p[j] = std::exp(dot * 0.5);
        }
        for (int j = 0; j < T; ++j)
          for (int d = 0; d < D; ++d) attn[(t * heads + h) * D + d] += p[j] / sum * v[(j * heads + h) * D + d];
      }
    const auto want = ref_linear(attn, T, Wo, H);
    SelfAttentionOptions o;
    o.hidden_size = H;
    o.num_heads = o.num_kv_heads = heads;
    o.head_dim = D;
    o.scale = 0.5f;
    o.causal = false;
    o.sliding_window = window;
    SelfAttention a = SelfAttention::load(w, "s.", o);
    KVCache cache(1, 1, heads, T, D);
    cache.append(T);
    for (int t = 0; t < T; ++t) cache.key_valid(0)[t] = t != 3;
    Workspace ws;
    std::vector<float> out(size_t(T * H));
    a.forward(x.data(), 1, T, 0, positions, cache, 0, ws, out.data(), false);
    expect_near(out.data(), want, 1e-4, "window " + std::to_string(window));
  }
}

// Eager attention of T queries over one source of S rows (mask: 1 = real token), in double:
// out_proj(softmax(softcap(q·kᵀ·scale)) v), every projection with its optional bias; query
// head h reads K/V head h / (heads / kv_heads) (kv_heads 0: heads).
std::vector<double> ref_cross(const std::vector<float>& x, int T, const std::vector<float>& src, int S,
                              const uint8_t* valid, int64_t H, int64_t KV, int heads, int D, MapWeights& w,
                              const std::string& p, bool bias, double scale, int kv_heads = 0, double softcap = 0,
                              int window = 0) {
  if (kv_heads == 0) kv_heads = heads;
  auto b = [&](const char* n) { return bias ? &w.at(p + n + ".bias") : nullptr; };
  const int64_t inner = int64_t(heads) * D, kv_inner = int64_t(kv_heads) * D;
  auto q = ref_linear(to_double(x.data(), size_t(T * H)), T, w.at(p + "q.weight"), inner, b("q"));
  auto k = ref_linear(to_double(src.data(), size_t(S * KV)), S, w.at(p + "k.weight"), kv_inner, b("k"));
  auto v = ref_linear(to_double(src.data(), size_t(S * KV)), S, w.at(p + "v.weight"), kv_inner, b("v"));
  std::vector<double> attn(size_t(T * inner), 0.0);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < heads; ++h) {
      const int g = h / (heads / kv_heads);  // its K/V head
      std::vector<double> s(S, -1e300);
      double mx = -1e300, sum = 0;
      for (int j = 0; j < S; ++j) {
        if (!valid[j] || (window > 0 && std::abs(t - j) > window)) continue;
        double dot = 0;
        for (int d = 0; d < D; ++d) dot += q[(t * heads + h) * D + d] * k[(j * kv_heads + g) * D + d];
        dot *= scale;
        if (softcap > 0) dot = std::tanh(dot / softcap) * softcap;
        mx = std::max(mx, s[j] = dot);
      }
      for (int j = 0; j < S; ++j) sum += s[j] > -1e299 ? (s[j] = std::exp(s[j] - mx)) : (s[j] = 0);
      for (int j = 0; j < S; ++j)
        for (int d = 0; d < D; ++d) attn[(t * heads + h) * D + d] += s[j] / sum * v[(j * kv_heads + g) * D + d];
    }
  return ref_linear(attn, T, w.at(p + "o.weight"), H, b("o"));
}

struct CrossCase {
  int64_t hidden, kv_input;
  int heads, head_dim;
  bool bias;
  int kv_heads = 0;     // GQA (0: heads)
  float softcap = 0.f;  // attention logit softcapping (0: none)
};

class CrossAttentionBlock : public ::testing::TestWithParam<CrossCase> {};

// Two inputs of different lengths (the second right-padded), two decoder rows (beams) each:
// K/V projected once, then a prefill of T queries and single steps all match eager attention
// over each row's own input; the padded source positions get no weight.
TEST_P(CrossAttentionBlock, KeysOncePerInputSharedByItsRows) {
  const CrossCase c = GetParam();
  const int S = 5, T = 3, inputs = 2, rows = 4;
  const int64_t inner = int64_t(c.heads) * c.head_dim, kv_inner = int64_t(c.kv_heads ? c.kv_heads : c.heads) * c.head_dim;
  MapWeights w;
  w.add("x.q.weight", {inner, c.hidden});
  w.add("x.k.weight", {kv_inner, c.kv_input});
  w.add("x.v.weight", {kv_inner, c.kv_input});
  w.add("x.o.weight", {c.hidden, inner});
  if (c.bias) w.add("x.q.bias", {inner});
  if (c.bias)
    for (const char* n : {"k", "v"}) w.add(std::string("x.") + n + ".bias", {kv_inner});
  if (c.bias) w.add("x.o.bias", {c.hidden});
  CrossAttentionOptions o;
  o.hidden_size = c.hidden;
  o.num_heads = c.heads;
  o.head_dim = c.head_dim;
  o.kv_input_size = c.kv_input;
  o.bias = c.bias;
  o.scale = c.bias ? 1.f / std::sqrt(float(c.head_dim)) : 1.f;
  o.num_kv_heads = c.kv_heads;
  o.softcap = c.softcap;
  const CrossAttention a = CrossAttention::load(w, "x.", o, {"q", "k", "v", "o"});
  const auto src = random_vector(size_t(inputs * S * c.kv_input), 11);  // (inputs*S, kv_input)
  const std::vector<uint8_t> valid = {1, 1, 1, 1, 1, /*second: 3 real*/ 1, 1, 1, 0, 0};
  Workspace ws;
  CrossKV kv;
  a.project_kv(src.data(), inputs, S, ws, kv);
  ASSERT_EQ(kv.num_inputs, inputs);
  ASSERT_EQ(kv.src_len, S);
  const auto x = random_vector(size_t(rows * T * c.hidden), 12);  // (rows*T, hidden)
  std::vector<float> out(size_t(rows * T * c.hidden), 1.f);
  a.forward(x.data(), rows, T, kv, valid, ws, out.data(), /*accumulate=*/true);
  std::vector<float> step(size_t(rows * c.hidden));
  for (int r = 0; r < rows; ++r) {
    const int in = r / 2;
    std::vector<float> xr(x.begin() + r * T * c.hidden, x.begin() + (r + 1) * T * c.hidden);
    std::vector<float> sr(src.begin() + in * S * c.kv_input, src.begin() + (in + 1) * S * c.kv_input);
    auto want = ref_cross(xr, T, sr, S, valid.data() + in * S, c.hidden, c.kv_input, c.heads, c.head_dim, w, "x.", c.bias,
                          o.scale, c.kv_heads, c.softcap);
    for (double& v : want) v += 1.0;  // accumulated onto ones
    expect_near(out.data() + r * T * c.hidden, want, 1e-4, "row " + std::to_string(r));
  }
  // One query per row (a decoding step) reads the same K/V.
  for (int t = 0; t < T; ++t) {
    std::vector<float> xt(size_t(rows * c.hidden));
    for (int r = 0; r < rows; ++r)
      std::copy_n(x.begin() + (r * T + t) * c.hidden, c.hidden, xt.begin() + r * c.hidden);
    a.forward(xt.data(), rows, 1, kv, valid, ws, step.data(), false);
    for (int r = 0; r < rows; ++r)
      for (int64_t i = 0; i < c.hidden; ++i)
        EXPECT_NEAR(step[r * c.hidden + i] + 1.f, out[(r * T + t) * c.hidden + i], 1e-4) << "step " << t << " row " << r;
  }
  // Query rows that are not a whole number of rows per input are refused.
  EXPECT_THROW(a.forward(x.data(), 3, 1, kv, valid, ws, step.data(), false), Error);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CrossAttentionBlock,
                         ::testing::Values(CrossCase{16, 16, 4, 4, true},     // BART: biases, head_dim^-0.5
                                           CrossCase{12, 20, 2, 8, false},    // T5-like: inner ≠ hidden, no bias
                                           // T5Gemma-like: GQA (4 query heads over 2 K/V heads), softcap
                                           CrossCase{16, 12, 4, 4, true, 2, 0.5f}));

// A key/value head count that does not divide the query heads is refused at load.
TEST(CrossAttentionBlockLoad, RefusesKvHeadsNotDividingHeads) {
  MapWeights w;
  w.add("x.q.weight", {12, 8});
  w.add("x.k.weight", {8, 8});
  w.add("x.v.weight", {8, 8});
  w.add("x.o.weight", {8, 12});
  CrossAttentionOptions o;
  o.hidden_size = 8;
  o.num_heads = 3;
  o.head_dim = 4;
  o.num_kv_heads = 2;
  o.bias = false;
  EXPECT_THROW(CrossAttention::load(w, "x.", o, {"q", "k", "v", "o"}), Error);
}

// The encoder's self-attention is the same block over its own rows (BartAttention, is_causal
// False): every position sees the whole (unpadded) input, later ones too.
TEST(CrossAttentionBlockEncoder, SelfAttentionOverOwnRowsIsBidirectional) {
  const int64_t H = 8;
  const int S = 4, heads = 2, D = 4;
  MapWeights w;
  for (const char* n : {"q", "k", "v", "o"}) w.add(std::string("e.") + n + ".weight", {H, H});
  for (const char* n : {"q", "k", "v", "o"}) w.add(std::string("e.") + n + ".bias", {H});
  CrossAttentionOptions o;
  o.hidden_size = H;
  o.num_heads = heads;
  o.head_dim = D;
  o.scale = 0.5f;
  const CrossAttention a = CrossAttention::load(w, "e.", o, {"q", "k", "v", "o"});
  const auto x = random_vector(size_t(S * H), 13);
  const std::vector<uint8_t> valid(S, 1);
  Workspace ws;
  CrossKV kv;
  a.project_kv(x.data(), 1, S, ws, kv);
  std::vector<float> out(size_t(S * H));
  a.forward(x.data(), 1, S, kv, valid, ws, out.data(), false);
  expect_near(out.data(), ref_cross(x, S, x, S, valid.data(), H, H, heads, D, w, "e.", true, 0.5), 1e-4, "encoder");
}

// With sliding_window w (a two-sided local window) each source row sees the rows within
// w either side only, padding still masked; the window must cover the source rows themselves.
TEST(CrossAttentionBlockEncoder, SlidingWindowSeesNeighboursOnly) {
  const int64_t H = 8;
  const int S = 7, heads = 2, D = 4, window = 2;
  MapWeights w;
  for (const char* n : {"q", "k", "v", "o"}) w.add(std::string("e.") + n + ".weight", {H, H});
  for (const char* n : {"q", "k", "v", "o"}) w.add(std::string("e.") + n + ".bias", {H});
  CrossAttentionOptions o;
  o.hidden_size = H;
  o.num_heads = heads;
  o.head_dim = D;
  o.scale = 0.5f;
  o.sliding_window = window;
  const CrossAttention a = CrossAttention::load(w, "e.", o, {"q", "k", "v", "o"});
  const auto x = random_vector(size_t(S * H), 14);
  const std::vector<uint8_t> valid = {1, 1, 1, 1, 1, 0, 1};
  Workspace ws;
  CrossKV kv;
  a.project_kv(x.data(), 1, S, ws, kv);
  std::vector<float> out(size_t(S * H));
  a.forward(x.data(), 1, S, kv, valid, ws, out.data(), false);
  const auto want = ref_cross(x, S, x, S, valid.data(), H, H, heads, D, w, "e.", true, 0.5, 0, 0, window);
  expect_near(out.data(), want, 1e-4, "window");
  // The window changes the result: full attention differs at the first row.
  const auto full = ref_cross(x, S, x, S, valid.data(), H, H, heads, D, w, "e.", true, 0.5);
  double diff = 0;
  for (int64_t i = 0; i < H; ++i) diff = std::max(diff, std::abs(full[i] - want[i]));
  EXPECT_GT(diff, 1e-3);
  // Queries that are not the source rows are refused.
  EXPECT_THROW(a.forward(x.data(), 1, 1, kv, valid, ws, out.data(), false), Error);
}

// LEDEncoderSelfAttention in double: a local token attends (query / key / value) to the real
// tokens within `window` either side and to every global token; a global token attends
// (query_global / key_global / value_global) to every real token; padding rows are zero before
// the output projection.
std::vector<double> ref_longformer(const std::vector<float>& x, int n, int S, const std::vector<uint8_t>& valid,
                                   const std::vector<uint8_t>& global, int64_t H, int heads, int D, int window,
                                   MapWeights& w, const std::string& p) {
  const std::string s = p + "longformer_self_attn.";
  auto proj = [&](const std::string& name) {
    return ref_linear(to_double(x.data(), x.size()), int64_t(n) * S, w.at(name + ".weight"), H, &w.at(name + ".bias"));
  };
  const auto q = proj(s + "query"), k = proj(s + "key"), v = proj(s + "value");
  const auto qg = proj(s + "query_global"), kg = proj(s + "key_global"), vg = proj(s + "value_global");
  std::vector<double> attn(size_t(int64_t(n) * S * H), 0.0);
  for (int b = 0; b < n; ++b)
    for (int i = 0; i < S; ++i) {
      const int64_t row = int64_t(b) * S + i;
      if (!valid[size_t(row)]) continue;
      const bool g = global[size_t(row)] != 0;
      const auto &Q = g ? qg : q, &K = g ? kg : k, &V = g ? vg : v;
      for (int h = 0; h < heads; ++h) {
        std::vector<double> score(size_t(S), -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j < S; ++j) {
          const int64_t col = int64_t(b) * S + j;
          if (!valid[size_t(col)] || (!g && std::abs(i - j) > window && !global[size_t(col)])) continue;
          double d = 0;
          for (int e = 0; e < D; ++e) d += Q[row * H + h * D + e] / std::sqrt(double(D)) * K[col * H + h * D + e];
          score[size_t(j)] = d;
          mx = std::max(mx, d);
        }
        double sum = 0;
        for (double& e : score) sum += (e = std::exp(e - mx));
        for (int j = 0; j < S; ++j)
          for (int e = 0; e < D; ++e)
            attn[size_t(row * H + h * D + e)] += score[size_t(j)] / sum * V[(int64_t(b) * S + j) * H + h * D + e];
      }
    }
  return ref_linear(attn, int64_t(n) * S, w.at(p + "output.weight"), H, &w.at(p + "output.bias"));
}

TEST(LongformerAttentionBlock, LocalWindowAndGlobalTokens) {
  const int64_t H = 8;
  const int n = 2, S = 9, heads = 2, D = 4, window = 2;
  MapWeights w;
  for (const char* m : {"query", "key", "value", "query_global", "key_global", "value_global"}) {
    w.add(std::string("a.longformer_self_attn.") + m + ".weight", {H, H});
    w.add(std::string("a.longformer_self_attn.") + m + ".bias", {H});
  }
  w.add("a.output.weight", {H, H});
  w.add("a.output.bias", {H});
  const auto a = LongformerSelfAttention::load(w, "a.", {H, heads, D, window});
  const auto x = random_vector(size_t(n * S * H), 21);
  // Input 1 has two padding rows at the end; global tokens 0 and 5 (input 0) and 3 (input 1).
  const std::vector<uint8_t> valid = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  std::vector<uint8_t> global(size_t(n * S), 0);
  global[0] = global[5] = global[S + 3] = 1;
  Workspace ws;
  std::vector<float> out(size_t(n * S * H));
  a.forward(x.data(), n, S, valid, global, ws, out.data(), false);
  expect_near(out.data(), ref_longformer(x, n, S, valid, global, H, heads, D, window, w, "a."), 1e-4, "global");
  // Without global tokens: the local window only; the global tokens change the result.
  const std::vector<uint8_t> none(size_t(n * S), 0);
  std::vector<float> local(size_t(n * S * H));
  a.forward(x.data(), n, S, valid, {}, ws, local.data(), false);
  const auto want_local = ref_longformer(x, n, S, valid, none, H, heads, D, window, w, "a.");
  expect_near(local.data(), want_local, 1e-4, "local");
  double diff = 0;
  for (size_t i = 0; i < want_local.size(); ++i) diff = std::max(diff, std::abs(out[i] - want_local[i]));
  EXPECT_GT(diff, 1e-2);
  // Masks of the wrong size are refused.
  EXPECT_THROW(a.forward(x.data(), n, S, {valid.data(), 5}, global, ws, out.data(), false), Error);
  EXPECT_THROW(a.forward(x.data(), n, S, valid, {global.data(), 5}, ws, out.data(), false), Error);
}

}  // namespace
}  // namespace autolm
