#include "nn/mlp.h"

#include "ops/linear.h"

namespace autolm {

Mlp Mlp::load(WeightSource& w, const std::string& p, int64_t H, int64_t I, const MlpOptions& options,
              const MlpNames& names) {
  Mlp m;
  m.options_ = options;
  m.hidden_size_ = H;
  m.intermediate_size_ = I;
  auto matrix = [&](const std::string& name, int64_t out, int64_t in) {
    return options.transposed ? w.require_transposed(p + name + ".weight", {in, out})
                              : w.require_matrix(p + name + ".weight", {out, in});
  };
  if (options.gated && w.has(p + names.gate_up + ".weight")) {  // Phi-3: (2*intermediate_size, hidden_size)
    const TensorView gu = matrix(names.gate_up, 2 * I, H);
    m.gate_proj = weight_rows(gu, 0, I);
    m.up_proj = weight_rows(gu, I, I);
    if (options.bias) {
      const TensorView b = w.require(p + names.gate_up + ".bias", {2 * I});
      m.gate_bias = vector_slice(b, 0, I);
      m.up_bias = vector_slice(b, I, I);
    }
  } else {
    if (options.gated) m.gate_proj = matrix(names.gate, I, H);
    m.up_proj = matrix(names.up, I, H);
    if (options.bias) {
      if (options.gated) m.gate_bias = w.require(p + names.gate + ".bias", {I});
      m.up_bias = w.require(p + names.up + ".bias", {I});
    }
  }
  m.down_proj = matrix(names.down, H, I);
  if (options.bias) m.down_bias = w.require(p + names.down + ".bias", {H});
  return m;
}

void Mlp::forward(const float* x, int64_t N, Workspace& ws, float* out, bool accumulate) const {
  const int64_t I = intermediate_size_;
  float* up = ws.up.resize(N * I);  // (rows, intermediate_size)
  if (options_.gated) {
    float* gate = ws.gate.resize(N * I);
    linear_fused(x, N, {{gate_proj, gate_bias, gate}, {up_proj, up_bias, up}});
    activate_gated(options_.act, gate, up, N * I);  // up = act(gate) * up
  } else {
    linear(x, N, up_proj, up_bias, up);
    activate(options_.act, up, N * I);
  }
  if (accumulate) linear_accumulate(up, N, down_proj, down_bias, out);
  else linear(up, N, down_proj, down_bias, out);
}

}  // namespace autolm
