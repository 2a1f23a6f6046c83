// SmolLM3ForCausalLM (transformers' modeling_smollm3.py, modular from Llama): layers without
// positions (NoPE) where no_rope_layers[i] == 0 (default: every no_rope_layer_interval-th), the
// sliding window (use_sliding_window) only on those, tied embeddings by default.
#include <memory>

#include "models/llama.h"
#include "models/registry.h"

namespace autolm {

namespace {

class SmolLM3ForCausalLM final : public LlamaModel {
 public:
  SmolLM3ForCausalLM(ModelConfig mc, const JsonConfig& c, std::unique_ptr<WeightStore> w)
      : LlamaModel(std::move(mc), c, std::move(w)) {
    const int L = sizes_.num_hidden_layers;
    LlamaOptions o = default_options(c);
    o.attn.qkv_bias = o.attn.o_bias = c.get_or<bool>("attention_bias", false);
    o.mlp.bias = c.get_or<bool>("mlp_bias", false);
    o.tie_word_embeddings = true;
    // no_rope_layers[i] == 1 where layer i uses RoPE.
    const int64_t interval = config_size_or(c, "no_rope_layer_interval", 4);
    std::vector<int64_t> use_rope(L);
    for (int i = 0; i < L; ++i) use_rope[i] = (i + 1) % interval != 0;
    if (c.has("no_rope_layers")) use_rope = c.get<std::vector<int64_t>>("no_rope_layers");
    if (int64_t(use_rope.size()) != L)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": no_rope_layers has " + std::to_string(use_rope.size()) +
                                                " entries for num_hidden_layers " + std::to_string(L));
    const bool use_sliding_window = c.get_or<bool>("use_sliding_window", false);
    const bool window_set = config_size_or(c, "sliding_window", 0) > 0;
    std::vector<std::string> fallback(L, "full_attention");
    for (int i = 0; i < L; ++i) {
      o.rope[i] = use_rope[i] != 0;
      if (use_sliding_window && window_set && !use_rope[i]) fallback[i] = "sliding_attention";
    }
    o.sliding_window = sliding_windows(c, use_sliding_window, fallback);
    load(c, o);
  }
};

}  // namespace

std::unique_ptr<Model> make_smollm3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights) {
  return std::make_unique<SmolLM3ForCausalLM>(std::move(config), json, std::move(weights));
}

}  // namespace autolm
