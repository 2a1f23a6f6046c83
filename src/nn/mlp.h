// MLP block: gated (LlamaMLP: down(act(gate(x)) * up(x)), gate/up separate or fused as
// gate_up_proj) or plain (GPT-2 / OPT / GPT-NeoX: down(act(up(x)))), biases optional, the
// activation by its HF name.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "nn/weight_source.h"
#include "nn/workspace.h"
#include "ops/activations.h"

namespace autolm {

struct MlpOptions {
  bool gated = true;                       // LlamaMLP; false: fc1 → act → fc2
  Activation act = Activation::kSilu;      // hidden_act / hidden_activation / activation_function
  bool bias = false;                       // every projection has a bias (mlp_bias, GPT-2, OPT)
  bool transposed = false;                 // Conv1D weights stored (in, out) (GPT-2)
};

// The HF module names under the MLP prefix. Gated: gate, up, down (or gate_up when the file
// fuses them, gate rows first as Phi-3's chunk(2)). Plain: up is the input projection (c_fc,
// fc1, dense_h_to_4h), down the output one (c_proj, fc2, dense_4h_to_h).
struct MlpNames {
  std::string gate = "gate_proj", up = "up_proj", down = "down_proj", gate_up = "gate_up_proj";
};

class Mlp {
 public:
  Mlp() = default;
  // Loads `prefix` + names (e.g. "model.layers.0.mlp."); a gated MLP whose file holds
  // `gate_up` uses the fused tensor (2*intermediate_size, hidden_size) as row views.
  static Mlp load(WeightSource& w, const std::string& prefix, int64_t hidden_size, int64_t intermediate_size,
                  const MlpOptions& options, const MlpNames& names = {});

  // x: (rows, hidden_size) → out: (rows, hidden_size); accumulate: out += mlp(x) (the residual
  // add without a temporary). Uses ws.gate / ws.up. out may not alias x.
  void forward(const float* x, int64_t rows, Workspace& ws, float* out, bool accumulate) const;

  int64_t intermediate_size() const { return intermediate_size_; }

 private:
  MlpOptions options_;
  int64_t hidden_size_ = 0, intermediate_size_ = 0;
  TensorView gate_proj, up_proj;      // (intermediate_size, hidden_size); gate empty when plain
  TensorView gate_bias, up_bias;      // (intermediate_size) or empty
  TensorView down_proj;               // (hidden_size, intermediate_size)
  TensorView down_bias;               // (hidden_size) or empty
};

}  // namespace autolm
