// Gemma 2's "sandwich" sub-layer (Gemma2DecoderLayer, T5GemmaEncoderLayer / DecoderLayer): the
// sub-layer's input normalised by pre_<name>_layernorm, its output by post_<name>_layernorm, then
// added to the residual stream:
//   residual = hidden; hidden = pre(hidden); hidden = sublayer(hidden); hidden = post(hidden);
//   hidden = residual + hidden
#pragma once

#include <cstdint>
#include <string>

#include "nn/norm.h"

namespace autolm {

struct SandwichNorm {
  Norm pre, post;  // (dim)

  // `prefix` + "pre_" + name + "_layernorm" and … "post_" … (name: self_attn, cross_attn, feedforward).
  static SandwichNorm load(WeightSource& w, const std::string& prefix, const std::string& name, int64_t dim,
                           const NormOptions& options) {
    return {Norm::load(w, prefix + "pre_" + name + "_layernorm", dim, options),
            Norm::load(w, prefix + "post_" + name + "_layernorm", dim, options)};
  }

  // hidden: (rows, dim) += post(sublayer(pre(hidden))); x, y: (rows, dim) scratch;
  // sublayer(in, out) writes (rows, dim) into out (not accumulating).
  template <typename Sublayer>
  void forward(float* hidden, int64_t rows, float* x, float* y, Sublayer sublayer) const {
    pre.forward(hidden, rows, x);
    sublayer(static_cast<const float*>(x), y);
    post.forward(y, rows, y);
    const int64_t n = rows * pre.dim();
    for (int64_t i = 0; i < n; ++i) hidden[i] += y[i];
  }
};

}  // namespace autolm
