// Qwen2ForCausalLM (transformers' modeling_qwen2.py, modular from Llama): q/k/v_proj with bias,
// o_proj without; with use_sliding_window, the layers from max_window_layers on slide (or those
// layer_types marks).
#include <memory>

#include "models/llama.h"
#include "models/registry.h"

namespace autolm {

namespace {

class Qwen2ForCausalLM final : public LlamaModel {
 public:
  Qwen2ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    LlamaOptions o = default_options(c);
    o.attn.qkv_bias = true;  // Qwen2Attention: q/k/v bias=True, o_proj bias=False
    const bool use_sliding_window = c.get_or<bool>("use_sliding_window", false);
    const int64_t max_window_layers = c.get_or<int64_t>("max_window_layers", sizes_.num_hidden_layers);
    std::vector<std::string> fallback(sizes_.num_hidden_layers, "full_attention");
    for (int i = 0; i < sizes_.num_hidden_layers; ++i)
      if (use_sliding_window && i >= max_window_layers) fallback[i] = "sliding_attention";
    o.sliding_window = sliding_windows(c, use_sliding_window, fallback);
    load(c, o);
  }
};

}  // namespace

std::unique_ptr<Model> make_qwen2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Qwen2ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
