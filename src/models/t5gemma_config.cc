#include "models/t5gemma_config.h"

#include <cmath>

#include "models/config_checks.h"

namespace autolm {

namespace {

// T5GemmaModuleConfig (Gemma2Config's keys and defaults).
void read_module(const JsonConfig& c, T5GemmaModuleConfig& m) {
  m.hidden_size = config_size(c, "hidden_size");
  m.intermediate_size = config_size(c, "intermediate_size");
  m.num_heads = int(config_size(c, "num_attention_heads"));
  m.num_kv_heads = int(config_size_or(c, "num_key_value_heads", m.num_heads));
  check_divisible(c, "num_attention_heads", m.num_heads, "num_key_value_heads", m.num_kv_heads);
  m.head_dim = int(config_size_or(c, "head_dim", m.hidden_size / m.num_heads));
  m.num_layers = int(config_size(c, "num_hidden_layers"));
  m.max_position_embeddings = config_size_or(c, "max_position_embeddings", 8192);
  // __post_init__: layer i slides when (i + 1) % 2.
  if (c.has("layer_types")) {
    const auto types = c.get<std::vector<std::string>>("layer_types");
    if (int64_t(types.size()) != m.num_layers)
      throw Error(ErrorKind::kInvalidInput, c.source() + ": layer_types has " + std::to_string(types.size()) +
                                                " entries for num_hidden_layers " + std::to_string(m.num_layers));
    for (const auto& t : types) {
      if (t != "full_attention" && t != "sliding_attention")
        throw Error(ErrorKind::kUnsupported, c.source() + ": layer_types holds \"" + t +
                                                 "\" (supported: full_attention, sliding_attention)");
      m.sliding.push_back(t == "sliding_attention");
    }
  } else {
    for (int i = 0; i < m.num_layers; ++i) m.sliding.push_back((i + 1) % 2 != 0);
  }
  m.norm = NormOptions{NormKind::kRms, float(config_epsilon(c, "rms_norm_eps", 1e-6)), /*unit_offset=*/true};
  m.mlp = MlpOptions{true, parse_activation(c.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh"),
                                            c.source() + ": hidden_activation")};
  m.rope = std::make_unique<RotaryEmbedding>(rope_parameters_for(c), m.head_dim, 1.0, m.max_position_embeddings);
  SelfAttentionOptions& a = m.attn;
  a.hidden_size = m.hidden_size;
  a.num_heads = m.num_heads;
  a.num_kv_heads = m.num_kv_heads;
  a.head_dim = m.head_dim;
  a.scale = float(std::pow(config_positive(c, "query_pre_attn_scalar", 256), -0.5));  // self.scaling
  a.qkv_bias = a.o_bias = c.get_or<bool>("attention_bias", false);
  a.softcap = float(config_optional_positive(c, "attn_logit_softcapping", 50.0));
  a.sliding_window = int(config_size_or(c, "sliding_window", 4096));  // for the sliding layers
  a.rope = m.rope.get();
  m.final_logit_softcapping = float(config_optional_positive(c, "final_logit_softcapping", 30.0));
}

}  // namespace

SelfAttentionOptions T5GemmaModuleConfig::self_attention(int layer, bool causal) const {
  SelfAttentionOptions o = attn;
  o.causal = causal;
  if (!sliding[size_t(layer)]) o.sliding_window = 0;
  return o;
}

T5GemmaConfig read_t5gemma_config(const JsonConfig& c, const WeightStore& weights) {
  for (const char* key : {"encoder", "decoder"})
    if (!c.raw().contains(key) || !c.raw()[key].is_object())
      throw Error(ErrorKind::kInvalidInput, c.source() + ": missing the \"" + std::string(key) + "\" sub-config object");
  T5GemmaConfig t;
  const JsonConfig ec(c.raw()["encoder"], c.source() + ": encoder"), dc(c.raw()["decoder"], c.source() + ": decoder");
  read_module(ec, t.encoder);
  read_module(dc, t.decoder);
  check_layer_count(ec, "num_hidden_layers", t.encoder.num_layers, weights, "model.encoder.layers.");
  check_layer_count(dc, "num_hidden_layers", t.decoder.num_layers, weights, "model.decoder.layers.");
  t.tie_word_embeddings = c.get_or<bool>("tie_word_embeddings", true);
  return t;
}

}  // namespace autolm
