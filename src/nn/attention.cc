#include "nn/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "ops/linear.h"
#include "ops/softmax.h"
#include "core/check.h"

namespace autolm {

namespace {

// Score rows held at once per thread: queries are processed in blocks of at most this many
// floats of (q_block, k_len) scores, so the scratch stays linear in the sequence length (a
// 40k-token prompt would otherwise need a 6 GB score matrix per thread). Prompts up to 1024
// tokens fit in one block.
constexpr int64_t kScoresFloats = int64_t(1) << 20;

// Equivalent in modeling_gpt_oss.py (eager_attention_forward): softmax over [scores, sink]
// with the max subtracted, the sink's column dropped.
void softmax_with_sink(float* x, int64_t n, float sink) {
  float mx = sink;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = std::exp(double(sink - mx));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace

// Per (row, head): scores = q·Kᵀ (BLAS; sgemv for a single query), scale, relative bias and masks, softmax, out = P·V
// (BLAS). Queries of one head are strided rows of q: (q_len, H*D) with row stride H*D.
void attention(const AttentionSpec& spec, int batch, int q_len, int q_start_all, const float* q, const KVSource& kv,
               int k_len_all, float* out) {
  AUTOLM_CHECK(spec.num_heads > 0 && spec.num_kv_heads > 0 && spec.num_heads % spec.num_kv_heads == 0 && spec.head_dim > 0,
               "attention heads");
  if (batch <= 0 || q_len <= 0) return;
  init_blas();
  const int H = spec.num_heads, D = spec.head_dim;
  const int group = H / spec.num_kv_heads;
  const int64_t row_stride = int64_t(q_len) * H * D;
  int k_max = k_len_all;  // the longest row's keys (scratch and work estimate)
  if (kv.row_start)
    for (int b = 0; b < batch; ++b) k_max = std::max(k_max, kv.row_start[b] + q_len);
  if (k_max <= 0) {  // nothing to attend to: zeros, as an empty softmax gives
    std::fill(out, out + batch * row_stride, 0.f);
    return;
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  const int64_t work_per_head = int64_t(q_len) * k_max * D;
  const int q_block = int(std::clamp<int64_t>(kScoresFloats / k_max, 1, q_len));
  ThreadPool::global().parallel_for(
      int64_t(batch) * H, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_head)),
      [&](int64_t bh0, int64_t bh1) {
        thread_local std::vector<float> scores_buf;  // (q_block, k_len), grows only
        if (scores_buf.size() < size_t(q_block) * k_max) scores_buf.resize(size_t(q_block) * k_max);
        float* scores = scores_buf.data();
        for (int64_t bh = bh0; bh < bh1; ++bh) {
          const int b = int(bh / H), h = int(bh % H);
          // A ragged row has its own query start and key count (the same computation as alone).
          const int q_start = kv.row_start ? kv.row_start[b] : q_start_all;
          const int k_len = kv.row_start ? q_start + q_len : k_len_all;
          const float* K = kv.k(b, h / group);  // (k_len, D)
          const float* V = kv.v(b, h / group);  // (k_len, D)
          const uint8_t* valid = kv.key_valid(b);
          // Keys a query at position qpos can see: [k_begin, k_end) (causal, sliding window).
          const int w = spec.sliding_window;
          auto key_range = [&](int qpos) {
            const int k_end = spec.causal ? std::min(k_len, qpos + 1)
                              : w > 0     ? int(std::min<int64_t>(k_len, int64_t(qpos) + w + 1))
                                          : k_len;
            const int k_begin = w > 0 ? std::max(0, spec.causal ? qpos - w + 1 : qpos - w) : 0;
            return std::pair<int, int>{k_begin, k_end};
          };
          for (int t0 = 0; t0 < q_len; t0 += q_block) {
            const int rows = std::min(q_block, q_len - t0);
            const float* qh = q + b * row_stride + int64_t(t0) * H * D + int64_t(h) * D;  // (rows, D), row stride H*D
            float* oh = out + b * row_stride + int64_t(t0) * H * D + int64_t(h) * D;
            // Only the keys some row of the block can see go through the GEMMs (the causal upper
            // triangle and what lies outside a sliding window are skipped, as flash attention's
            // block skipping): [lo, hi) is the union of the rows' ranges.
            int lo = k_len, hi = 0;
            for (int t = 0; t < rows; ++t) {
              const auto [kb, ke] = key_range(q_start + t0 + t);
              if (kb >= ke) continue;
              lo = std::min(lo, kb);
              hi = std::max(hi, ke);
            }
            if (lo >= hi) {  // every row fully masked (padding queries): zeros
              for (int t = 0; t < rows; ++t) std::fill(oh + int64_t(t) * H * D, oh + int64_t(t) * H * D + D, 0.f);
              continue;
            }
            const int n = hi - lo;                // keys in the block's range
            const float* Kb = K + int64_t(lo) * D;  // (n, D)
            const float* Vb = V + int64_t(lo) * D;  // (n, D)
            // One query (every decode step): matrix-vector products, no GEMM packing.
            if (rows == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, D, spec.scale, Kb, D, qh, 1, 0.f, scores, 1);
            else
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, D, spec.scale, qh, H * D, Kb, D, 0.f, scores,
                          n);
            for (int t = 0; t < rows; ++t) {
              const int qpos = q_start + t0 + t;
              float* srow = scores + int64_t(t) * n;  // srow[j - lo]: key j
              const auto [k_begin, k_end] = key_range(qpos);
              // Keys outside [k_begin, k_end) get probability 0 directly; inside, padding is -inf
              // and the T5 bias is added, then softmax over the window only.
              if (k_begin >= k_end) {  // fully masked row (padding query): zeros
                std::fill(srow, srow + n, 0.f);
                continue;
              }
              for (int j = lo; j < k_begin; ++j) srow[j - lo] = 0.f;
              for (int j = k_end; j < hi; ++j) srow[j - lo] = 0.f;
              for (int j = k_begin; j < k_end; ++j) {
                float& s = srow[j - lo];
                if (!valid[j]) {
                  s = neg_inf;
                  continue;
                }
                if (spec.softcap > 0.f) s = std::tanh(s / spec.softcap) * spec.softcap;
                if (spec.rel_bias) s += spec.rel_bias[h * spec.rel_bias_stride + spec.rel_bias_offset + j - qpos];
              }
              if (spec.sinks) softmax_with_sink(srow + (k_begin - lo), k_end - k_begin, spec.sinks[h]);
              else softmax(srow + (k_begin - lo), k_end - k_begin);  // all padding gives zeros too
            }
            if (rows == 1) cblas_sgemv(CblasRowMajor, CblasTrans, n, D, 1.f, Vb, D, scores, 1, 0.f, oh, 1);
            else
              cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, D, n, 1.f, scores, n, Vb, D, 0.f, oh, H * D);
          }
        }
      });
}

}  // namespace autolm
