// What the mixture-of-experts decoders (mixtral, qwen2_moe, qwen3_moe) share beyond
// DecoderOnlyModel: the router settings read from config.json, which layers are sparse, and a
// CausalState that also holds the experts' scratch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/decoder_only.h"
#include "nn/moe.h"

namespace autolm {

struct MoeCausalState : CausalState {
  using CausalState::CausalState;
  MoeScratch moe;  // the MoE block's routing and expert buffers
};

class MoeDecoderModel : public DecoderOnlyModel {
 public:
  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override;

 protected:
  using DecoderOnlyModel::DecoderOnlyModel;

  // num_experts (or, with `local_experts_alias`, num_local_experts as Mixtral / Qwen3-MoE
  // configs also spell it), num_experts_per_tok (≤ experts), hidden_act; norm_topk_prob is left
  // to the caller.
  MoeOptions read_moe(const JsonConfig& c, bool local_experts_alias);
  // Qwen*MoeDecoderLayer.__init__: layer i is sparse unless listed in mlp_only_layers or off the
  // decoder_sparse_step.
  static std::vector<bool> sparse_layers(const JsonConfig& c, int num_layers);
  // The lookups the MoE block loads through: router kept float32, experts per the load format.
  WeightLookup vector_lookup() { return [this](const std::string& n, const Shape& s) { return require(n, s); }; }
  WeightLookup matrix_lookup() { return [this](const std::string& n, const Shape& s) { return require_matrix(n, s); }; }
};

}  // namespace autolm
