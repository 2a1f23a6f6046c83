#include "nn/longformer_attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "ops/linear.h"
#include "ops/softmax.h"

namespace autolm {

LongformerSelfAttention LongformerSelfAttention::load(WeightSource& w, const std::string& p,
                                                      const LongformerAttentionOptions& o) {
  if (o.num_heads <= 0 || o.head_dim <= 0 || int64_t(o.num_heads) * o.head_dim != o.hidden_size || o.one_sided_window <= 0)
    throw Error(ErrorKind::kInvalidInput, p + ": Longformer attention needs hidden_size = num_heads × head_dim and a "
                                              "positive window");
  LongformerSelfAttention a;
  a.options_ = o;
  const int64_t E = o.hidden_size;
  const std::string s = p + "longformer_self_attn.";
  auto linear_of = [&](const std::string& name, TensorView& W, TensorView& b) {
    W = w.require_matrix(name + ".weight", {E, E});
    b = w.require(name + ".bias", {E});
  };
  linear_of(s + "query", a.query, a.query_b);
  linear_of(s + "key", a.key, a.key_b);
  linear_of(s + "value", a.value, a.value_b);
  linear_of(s + "query_global", a.query_global, a.query_global_b);
  linear_of(s + "key_global", a.key_global, a.key_global_b);
  linear_of(s + "value_global", a.value_global, a.value_global_b);
  linear_of(p + "output", a.output, a.output_b);
  return a;
}

namespace {

// out (D) = Σ_t p[t] · V[row t] for rows [lo, lo + n) of V (row stride ld): the window's share.
void window_values(const float* p, int n, const float* V, int64_t ld, int D, float* out) {
  cblas_sgemv(CblasRowMajor, CblasTrans, n, D, 1.f, V, int(ld), p, 1, 0.f, out, 1);
}

}  // namespace

// Equivalent in modeling_led.py: LEDEncoderSelfAttention.forward. Local queries: softmax over
// [scores of the global keys, scores of the window without padding and without the global keys
// (counted once, among the global ones)] (_concat_with_global_key_attn_probs), values likewise
// (_compute_attn_output_with_global_indices). Global queries: overwritten by
// _compute_global_attn_output_from_hidden — query_global of the token against key_global /
// value_global of every real token.
void LongformerSelfAttention::forward(const float* x, int n, int S, std::span<const uint8_t> valid,
                                      std::span<const uint8_t> global, Workspace& ws, float* out, bool accumulate) const {
  const LongformerAttentionOptions& o = options_;
  const int64_t N = int64_t(n) * S, E = o.hidden_size;
  const int H = o.num_heads, D = o.head_dim, w = o.one_sided_window;
  if (n <= 0 || S <= 0 || valid.size() != size_t(N) || (!global.empty() && global.size() != size_t(N)))
    throw Error(ErrorKind::kInvalidInput, "Longformer attention: " + std::to_string(n) + " inputs of " +
                                              std::to_string(S) + " tokens with masks of " + std::to_string(valid.size()) +
                                              " / " + std::to_string(global.size()));
  init_blas();
  auto is_global = [&](int64_t row) { return !global.empty() && global[size_t(row)] != 0; };
  std::vector<std::vector<int>> globals(static_cast<size_t>(n));  // per input: positions with global attention
  for (int b = 0; b < n; ++b)
    for (int i = 0; i < S; ++i)
      if (is_global(int64_t(b) * S + i) && valid[size_t(int64_t(b) * S + i)]) globals[size_t(b)].push_back(i);

  float* q = ws.q.resize(N * E);  // (inputs*src_len, num_heads*head_dim)
  float* k = ws.k.resize(N * E);
  float* v = ws.v.resize(N * E);
  float* attn = ws.attn.resize(N * E);
  linear_fused(x, N, {{query, query_b, q}, {key, key_b, k}, {value, value_b, v}});
  const float norm = float(std::sqrt(double(D)));  // query_vectors /= math.sqrt(self.head_dim)
  for (int64_t i = 0; i < N * E; ++i) q[i] /= norm;

  const float neg_inf = -std::numeric_limits<float>::infinity();
  ThreadPool::global().parallel_for(int64_t(n) * H, 1, [&](int64_t bh0, int64_t bh1) {
    thread_local std::vector<float> scores;  // (globals + 2w + 1)
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int b = int(bh / H), h = int(bh % H);
      const std::vector<int>& g = globals[size_t(b)];
      const int64_t base = int64_t(b) * S;
      const float* K = k + base * E + int64_t(h) * D;  // (src_len, head_dim), row stride E
      const float* V = v + base * E + int64_t(h) * D;
      for (int i = 0; i < S; ++i) {
        float* dst = attn + (base + i) * E + int64_t(h) * D;
        if (!valid[size_t(base + i)] || is_global(base + i)) {  // padding: zeros; global: below
          std::fill(dst, dst + D, 0.f);
          continue;
        }
        const float* qi = q + (base + i) * E + int64_t(h) * D;
        const int lo = std::max(0, i - w), hi = std::min(S, i + w + 1), ng = int(g.size());
        scores.resize(size_t(ng + hi - lo));
        float* sg = scores.data();  // the global keys' scores, then the window's
        float* sw = sg + ng;
        for (int t = 0; t < ng; ++t) sg[t] = cblas_sdot(D, qi, 1, K + int64_t(g[size_t(t)]) * E, 1);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, hi - lo, D, 1.f, K + int64_t(lo) * E, int(E), qi, 1, 0.f, sw, 1);
        for (int j = lo; j < hi; ++j)
          if (!valid[size_t(base + j)] || is_global(base + j)) sw[j - lo] = neg_inf;
        softmax(sg, ng + hi - lo);
        window_values(sw, hi - lo, V + int64_t(lo) * E, E, D, dst);
        for (int t = 0; t < ng; ++t) cblas_saxpy(D, sg[t], V + int64_t(g[size_t(t)]) * E, 1, dst, 1);
      }
    }
  });

  int64_t G = 0;
  for (const auto& g : globals) G += int64_t(g.size());
  if (G > 0) {
    std::vector<float> xg(size_t(G * E)), qg(size_t(G * E)), kg(size_t(N * E)), vg(size_t(N * E));
    std::vector<int64_t> rows;  // (G) the global tokens' rows
    for (int b = 0; b < n; ++b)
      for (int i : globals[size_t(b)]) rows.push_back(int64_t(b) * S + i);
    for (int64_t r = 0; r < G; ++r) std::copy(x + rows[size_t(r)] * E, x + (rows[size_t(r)] + 1) * E, xg.data() + r * E);
    linear(xg.data(), G, query_global, query_global_b, qg.data());  // (G, num_heads*head_dim)
    linear_fused(x, N, {{key_global, key_global_b, kg.data()}, {value_global, value_global_b, vg.data()}});
    for (float& e : qg) e /= norm;
    ThreadPool::global().parallel_for(G * H, 1, [&](int64_t r0, int64_t r1) {
      thread_local std::vector<float> scores;  // (src_len)
      scores.resize(size_t(S));
      for (int64_t rh = r0; rh < r1; ++rh) {
        const int64_t r = rh / H, row = rows[size_t(r)], base = row / S * S;
        const int h = int(rh % H);
        const float* K = kg.data() + base * E + int64_t(h) * D;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, S, D, 1.f, K, int(E), qg.data() + r * E + int64_t(h) * D, 1, 0.f,
                    scores.data(), 1);
        for (int j = 0; j < S; ++j)
          if (!valid[size_t(base + j)]) scores[size_t(j)] = neg_inf;
        softmax(scores.data(), S);
        window_values(scores.data(), S, vg.data() + base * E + int64_t(h) * D, E, D, attn + row * E + int64_t(h) * D);
      }
    });
  }
  if (accumulate) linear_accumulate(attn, N, output, output_b, out);
  else linear(attn, N, output, output_b, out);
}

}  // namespace autolm
