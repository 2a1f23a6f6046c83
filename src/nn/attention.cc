#include "nn/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "ops/softmax.h"

namespace autolm {

void attention(const AttentionSpec& spec, int batch, int q_len, int q_start, const float* q, const KVSource& kv,
               int k_len, float* out) {
  const int H = spec.num_heads, D = spec.head_dim;
  const int group = H / spec.num_kv_heads;
  const int64_t row_stride = int64_t(q_len) * H * D;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  // The per-thread score rows come from a thread-local buffer that only grows.
  thread_local std::vector<float> scores_tls;
  const int64_t work_per_head = int64_t(q_len) * k_len * D;
  ThreadPool::global().parallel_for(int64_t(batch) * H, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_head)),
                                    [&](int64_t bh0, int64_t bh1) {
  for (int64_t bh = bh0; bh < bh1; ++bh) {
    const int b = int(bh / H), h = int(bh % H);
    {
      auto& scores = scores_tls;
      if (int(scores.size()) < k_len) scores.resize(k_len);
      const float* K = kv.k(b, h / group);
      const float* V = kv.v(b, h / group);
      const uint8_t* valid = kv.key_valid(b);
      for (int t = 0; t < q_len; ++t) {
        const int qpos = q_start + t;
        const float* qv = q + b * row_stride + (int64_t(t) * H + h) * D;
        float* o = out + b * row_stride + (int64_t(t) * H + h) * D;
        const int k_end = spec.causal ? std::min(k_len, qpos + 1) : k_len;
        for (int j = 0; j < k_len; ++j) {
          bool keep = j < k_end && valid[j];
          if (keep && spec.sliding_window > 0 && qpos - j >= spec.sliding_window) keep = false;
          if (!keep) {
            scores[j] = neg_inf;
            continue;
          }
          const float* kj = K + int64_t(j) * D;
          float s = 0.f;
          for (int d = 0; d < D; ++d) s += qv[d] * kj[d];
          s *= spec.scale;
          if (spec.rel_bias) s += spec.rel_bias[h * spec.rel_bias_stride + spec.rel_bias_offset + j - qpos];
          scores[j] = s;
        }
        softmax(scores.data(), k_len);  // a fully masked row (padding query) gives zeros
        for (int d = 0; d < D; ++d) o[d] = 0.f;
        for (int j = 0; j < k_len; ++j) {
          const float p = scores[j];
          if (p == 0.f) continue;
          const float* vj = V + int64_t(j) * D;
          for (int d = 0; d < D; ++d) o[d] += p * vj[d];
        }
      }
    }
  }
  });
}

}  // namespace autolm
