// What every decoder-only architecture file shares: its sizes read from config.json with HF's
// key names and validated before anything is sized by them, rotary embeddings and the position
// limit they imply, per-layer attention types, the per-request CausalState, and the decode
// preamble (ids checked, cache slots and position ids assigned, scratch bounded).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/config_checks.h"
#include "models/decoder_state.h"
#include "models/loaded_model.h"
#include "nn/rope.h"
#include "nn/self_attention.h"

namespace autolm {

// The config.json spellings of the sizes (GPT-2: n_embd, n_layer, n_head, n_inner).
struct DecoderKeys {
  std::string hidden_size = "hidden_size", num_hidden_layers = "num_hidden_layers",
              num_attention_heads = "num_attention_heads", num_key_value_heads = "num_key_value_heads",
              intermediate_size = "intermediate_size", head_dim = "head_dim";
};

struct DecoderSizes {
  int64_t hidden_size = 0, intermediate_size = 0;
  int num_hidden_layers = 0, num_attention_heads = 0, num_key_value_heads = 0, head_dim = 0;
  int64_t q_out() const { return int64_t(num_attention_heads) * head_dim; }   // num_heads*head_dim
  int64_t kv_out() const { return int64_t(num_key_value_heads) * head_dim; }  // num_kv_heads*head_dim
};

class DecoderOnlyModel : public LoadedModel {
 public:
  std::unique_ptr<DecodeState> new_state(int batch, int max_length, int) const override;
  int64_t kv_bytes_per_token() const override;
  // One forward pass over the rows of every state: the view state (this model's own kind, so
  // MoE scratch and all) gets a ragged KV cache over the states' caches (KVCache::bind_rows),
  // then the architecture's decode() runs on it unchanged, on slices of at most 16 rows (the
  // matrix kernels' one-pass size, decoder_only.cc).
  std::span<const float> decode_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                      std::span<const int32_t> attention_mask, BatchScratch& scratch) const override;

 protected:
  DecoderOnlyModel(ModelConfig config, const JsonConfig& c, std::unique_ptr<WeightStore> weights);

  // Reads and validates the sizes: num_key_value_heads defaults to num_attention_heads,
  // head_dim to hidden_size / num_attention_heads, intermediate_size to
  // `default_intermediate` when > 0 (else required). Registers the config-naming labels of
  // every weight dimension and checks the layer count against the weights under `layers_prefix`.
  void read_sizes(const JsonConfig& c, const std::string& layers_prefix, const DecoderKeys& keys = {},
                  int64_t default_intermediate = 0);

  // layer_types[i] ("full_attention" / "sliding_attention") from config.json, or `fallback`
  // when the key is absent (its size checked against num_hidden_layers, values validated).
  std::vector<std::string> read_layer_types(const JsonConfig& c, std::vector<std::string> fallback) const;

  // Rotary embedding of a layer type (either config spelling, partial_rotary_factor validated).
  std::unique_ptr<RotaryEmbedding> make_rope(const JsonConfig& c, const std::string& layer_type = "full_attention",
                                             double partial_rotary_factor = 1.0) const;
  // The same from rope parameters the architecture assembled itself (GPT-NeoX's rotary_emb_base),
  // the factor read from config key `partial_key` (GPT-NeoX: rotary_pct).
  std::unique_ptr<RotaryEmbedding> make_rope(const JsonConfig& c, const JsonConfig& rope_parameters, double partial_rotary_factor,
                                             const std::string& partial_key = "partial_rotary_factor") const;
  // Sequences are bounded by max_position_embeddings (stretched by the rope scaling), or
  // AUTOLM_MAX_POSITIONS; call once with the model's rope (nullptr: max_position_embeddings as is).
  void set_computed_positions(const JsonConfig& c, const RotaryEmbedding* rope);
  // A learned position table of `rows` is a hard limit.
  void set_table_positions(int64_t rows, const std::string& why);

  // SelfAttentionOptions with the sizes filled in and LlamaAttention's scaling head_dim^-0.5.
  SelfAttentionOptions attention_options() const;

  // Validates ids and mask, appends seq_len tokens to the cache, assigns position ids, and
  // refuses a call whose activations would not fit (`floats_per_token`: the architecture's
  // activation floats per token beyond the LM head). Returns the first new cache slot.
  int begin_decode(CausalState& s, std::span<const int32_t> ids, std::span<const int32_t> attention_mask, int seq_len,
                   bool all_positions, double floats_per_token) const;

  DecoderSizes sizes_;
  PositionLimit positions_;
};

}  // namespace autolm
