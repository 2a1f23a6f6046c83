#include "models/moe_decoder.h"

#include <algorithm>

namespace autolm {

std::unique_ptr<DecodeState> MoeDecoderModel::new_state(int batch, int max_length, int) const {
  check_state_length(positions_, max_length);
  return std::make_unique<MoeCausalState>(sizes_.num_hidden_layers, batch, sizes_.num_key_value_heads, max_length,
                                          sizes_.head_dim);
}

MoeOptions MoeDecoderModel::read_moe(const JsonConfig& c, bool local_experts_alias) {
  MoeOptions moe;
  // transformers maps num_experts onto num_local_experts (attribute_map) and saves the latter.
  const std::string key = local_experts_alias && c.has("num_local_experts") ? "num_local_experts" : "num_experts";
  moe.num_experts = int(config_size(c, key));
  moe.top_k = int(config_size(c, "num_experts_per_tok"));
  if (moe.top_k > moe.num_experts)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": num_experts_per_tok (" + std::to_string(moe.top_k) +
                                              ") exceeds " + key + " (" + std::to_string(moe.num_experts) + ")");
  moe.act = parse_activation(c.get_or<std::string>("hidden_act", "silu"), c.source() + ": hidden_act");
  describe_dim(moe.num_experts, key);
  return moe;
}

std::vector<bool> MoeDecoderModel::sparse_layers(const JsonConfig& c, int num_layers) {
  const int64_t step = config_size_or(c, "decoder_sparse_step", 1);
  const auto mlp_only = c.get_or<std::vector<int64_t>>("mlp_only_layers", {});
  std::vector<bool> sparse(num_layers);
  for (int i = 0; i < num_layers; ++i)
    sparse[i] = std::find(mlp_only.begin(), mlp_only.end(), i) == mlp_only.end() && (i + 1) % step == 0;
  return sparse;
}

}  // namespace autolm
