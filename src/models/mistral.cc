// MistralForCausalLM (transformers' modeling_mistral.py, modular from Llama): LlamaModel without
// biases, with sliding_window attention on every layer (or on the layers layer_types marks).
#include <memory>

#include "models/llama.h"
#include "models/registry.h"

namespace autolm {

namespace {

class MistralForCausalLM final : public LlamaModel {
 public:
  MistralForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    LlamaOptions o = default_options(c);  // MistralAttention / MistralMLP: no bias
    const int window = int(config_size_or(c, "sliding_window", 0));
    o.sliding_window = sliding_windows(
        c, true,
        std::vector<std::string>(sizes_.num_hidden_layers, window > 0 ? "sliding_attention" : "full_attention"));
    load(c, o);
  }
};

}  // namespace

std::unique_ptr<Model> make_mistral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<MistralForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
