#include "nn/lm_head.h"

#include <cmath>

#include "ops/linear.h"

namespace autolm {

LmHead LmHead::load(WeightSource& w, int64_t V, int64_t H, const TensorView& embedding, const std::string& embedding_name,
                    const LmHeadOptions& options, const LmHeadNames& names) {
  LmHead h;
  h.options_ = options;
  h.vocab_size_ = V;
  h.hidden_size_ = H;
  if (options.final_norm) h.norm_ = Norm::load(w, names.norm, H, options.norm);
  h.weight_ = w.lm_head(names.head + ".weight", embedding, embedding_name, options.tie_word_embeddings, {V, H});
  if (options.bias) h.bias_ = w.require(names.head + ".bias", {V});
  if (options.final_logits_bias) h.final_logits_bias_ = w.require(names.final_logits_bias, {1, V});
  return h;
}

std::span<const float> LmHead::forward(const float* hidden, int B, int T, bool all_positions, Buffer& normed,
                                       Buffer& logits_buf) const {
  const int64_t H = hidden_size_, V = vocab_size_, rows = all_positions ? int64_t(B) * T : B;
  float* x = normed.resize(rows * H);  // (rows, hidden_size)
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = hidden + (all_positions ? r : r * T + T - 1) * H;
    if (norm_.empty()) std::copy(src, src + H, x + r * H);
    else norm_.forward(src, 1, x + r * H);
    if (options_.hidden_scale != 1.f)
      for (int64_t i = 0; i < H; ++i) x[r * H + i] *= options_.hidden_scale;
  }
  float* logits = logits_buf.resize(rows * V);  // (rows, vocab_size)
  linear(x, rows, weight_, bias_, logits);
  const LmHeadOptions& o = options_;
  for (int64_t r = 0; r < rows; ++r) {
    float* l = logits + r * V;
    if (!final_logits_bias_.empty())
      for (int64_t i = 0; i < V; ++i) l[i] += final_logits_bias_.data[i];
    if (o.logit_scale != 1.f)
      for (int64_t i = 0; i < V; ++i) l[i] *= o.logit_scale;
    if (o.logits_scaling != 1.f)
      for (int64_t i = 0; i < V; ++i) l[i] /= o.logits_scaling;
    if (o.final_logit_softcapping > 0.f)
      for (int64_t i = 0; i < V; ++i) l[i] = std::tanh(l[i] / o.final_logit_softcapping) * o.final_logit_softcapping;
  }
  return {logits, size_t(rows * V)};
}

}  // namespace autolm
