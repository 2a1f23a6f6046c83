// Sparse mixture-of-experts feed-forward block (transformers' MixtralSparseMoeBlock,
// Qwen2MoeSparseMoeBlock, Qwen3MoeSparseMoeBlock, and DeepseekV3MoE's sigmoid router): a router
// picks top_k experts per token, each expert is a gated MLP run through linear() (float32,
// bf16/f16 or int8 per expert, as the weights were loaded), outputs summed with the routing
// weights; optional shared expert (with Qwen2-MoE's sigmoid gate) added for every token.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/activations.h"

namespace autolm {

struct MoeOptions {
  int num_experts = 0;          // num_local_experts (mixtral) / num_experts (qwen) / n_routed_experts
  int top_k = 0;                // num_experts_per_tok
  bool norm_topk_prob = true;   // renormalise the top_k weights to sum 1 (mixtral: always)
  // kSoftmax: weights = softmax(logits) over all experts (mixtral, qwen2_moe, qwen3_moe).
  // kSigmoid: weights = sigmoid(logits); experts chosen by sigmoid + e_score_correction_bias
  // within the topk_group best of n_group groups (DeepSeek-V3, GLM-4.5 MoE).
  enum class Router { kSoftmax, kSigmoid } router = Router::kSoftmax;
  int n_group = 1, topk_group = 1;     // kSigmoid only
  float routed_scaling_factor = 1.f;   // multiplies the routed weights (kSigmoid)
  Activation act = Activation::kSilu;  // hidden_act of every expert
};

// One gated MLP: down(act(gate(x)) * up(x)).
struct MoeExpert {
  TensorView gate_proj;  // (intermediate, hidden)
  TensorView up_proj;    // (intermediate, hidden)
  TensorView down_proj;  // (hidden, intermediate)
};

struct MoeScratch;
// y = down(act(gate(x)) * up(x)) for x: (rows, hidden), y: (rows, hidden); the dense MLP of the
// layers a MoE model keeps dense, and every expert.
void gated_mlp(const MoeExpert& mlp, Activation act, const float* x, int64_t rows, float* y, MoeScratch& scratch);

// Grow-only buffers of one forward (kept in the decode state: nothing allocated per token once
// sized).
struct MoeScratch {
  Buffer router_logits, rows, gate, up, down, shared_gate, result;
  std::vector<int32_t> top_index;  // (tokens, top_k)
  std::vector<float> top_weight;   // (tokens, top_k)
  std::vector<int64_t> members;    // tokens routed to the expert being run
  std::vector<float> member_weight;
  std::vector<int32_t> order, groups;       // routing scratch
  std::vector<float> choice, group_score;
};

// Weight names of one family: the router's, and each expert's three matrices (relative to the
// block's prefix; "{e}" stands for the expert index).
struct MoeNames {
  std::string router = "gate.weight";
  std::string gate_proj = "experts.{e}.gate_proj.weight";
  std::string up_proj = "experts.{e}.up_proj.weight";
  std::string down_proj = "experts.{e}.down_proj.weight";
  std::string correction_bias;       // kSigmoid: "gate.e_score_correction_bias"
  std::string shared_prefix;         // "shared_expert." / "shared_experts." or empty: none
  std::string shared_gate;           // Qwen2-MoE: "shared_expert_gate.weight", else empty
  static MoeNames mixtral();         // block_sparse_moe: experts.{e}.w1 (gate), w3 (up), w2 (down)
};

// How a model file hands weights to the block: name → view, checking the shape (its own
// require / require_matrix, so errors name the config keys).
using WeightLookup = std::function<TensorView(const std::string& name, const Shape& shape)>;

class MoE {
 public:
  // Loads the block under `prefix` ("model.layers.3.mlp."). `intermediate` is each routed
  // expert's size (moe_intermediate_size / intermediate_size), `shared_intermediate` the shared
  // expert's (0: none). `vector` looks up tensors kept float32 (the router), `matrix` the expert
  // matrices (stored per the load format: bf16 in place, int8 per expert).
  MoE(const MoeOptions& options, const MoeNames& names, const std::string& prefix, int64_t hidden,
      int64_t intermediate, int64_t shared_intermediate, const WeightLookup& vector, const WeightLookup& matrix);
  MoE() = default;

  // out = moe(x) for x: (tokens, hidden); out: (tokens, hidden), may not alias x.
  void forward(const float* x, int64_t tokens, float* out, MoeScratch& scratch) const;
  // out += moe(x): the residual add of a decoder layer.
  void forward_accumulate(const float* x, int64_t tokens, float* out, MoeScratch& scratch) const;

  const MoeOptions& options() const { return options_; }
  // Top-k selection and weights for every token (exposed for tests): index/weight (tokens, top_k),
  // indices in descending router score.
  void route(const float* x, int64_t tokens, MoeScratch& scratch) const;

 private:
  MoeOptions options_;
  int64_t hidden_ = 0, intermediate_ = 0, shared_intermediate_ = 0;
  TensorView router_;           // (num_experts, hidden)
  TensorView correction_bias_;  // (num_experts), kSigmoid only
  std::vector<MoeExpert> experts_;
  MoeExpert shared_;            // shared expert (intermediate: shared_intermediate)
  TensorView shared_gate_;      // (1, hidden) or empty
};

}  // namespace autolm
