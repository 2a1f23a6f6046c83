// Phi3ForCausalLM (transformers' modeling_phi3.py, modular from Mistral): fused qkv_proj
// ([q; k; v] rows) and gate_up_proj, partial rotary (partial_rotary_factor), no biases, sliding
// window on every layer when set, rms_norm_eps 1e-5 by default.
#include <memory>

#include "models/llama.h"
#include "models/registry.h"

namespace autolm {

namespace {

class Phi3ForCausalLM final : public LlamaModel {
 public:
  Phi3ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    LlamaOptions o = default_options(c, /*default_eps=*/1e-5);
    o.attn.layout = QkvLayout::kFused;  // qkv_proj; Mlp finds gate_up_proj by name
    const int window = int(config_size_or(c, "sliding_window", 0));
    o.sliding_window = sliding_windows(
        c, true,
        std::vector<std::string>(sizes_.num_hidden_layers, window > 0 ? "sliding_attention" : "full_attention"));
    load(c, o);
  }
};

}  // namespace

std::unique_ptr<Model> make_phi3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Phi3ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
