// Qwen3ForCausalLM (transformers' modeling_qwen3.py, modular from Qwen2 / Llama): RMSNorm over
// each head of q and k (q_norm / k_norm, before RoPE), attention_bias on q/k/v/o; sliding windows
// as Qwen2.
#include <memory>

#include "models/llama.h"
#include "models/registry.h"

namespace autolm {

namespace {

class Qwen3ForCausalLM final : public LlamaModel {
 public:
  Qwen3ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    LlamaOptions o = default_options(c);
    o.attn.qkv_bias = o.attn.o_bias = c.get_or<bool>("attention_bias", false);
    o.attn.qk_norm = QkNorm::kPerHead;  // Qwen3RMSNorm(head_dim)
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

std::unique_ptr<Model> make_qwen3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<Qwen3ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
