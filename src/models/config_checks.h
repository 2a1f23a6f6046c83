// Validation of the config.json values that size a model: every size is a positive integer
// in range, layer counts agree with the weights before anything is allocated per layer, and
// sequence lengths stay within the model's positions. Errors name the file, the key and the
// value, never only the tensor that happened to disagree first.
#pragma once

#include <cstdint>
#include <string>

#include "io/json_file.h"

namespace autolm {

class WeightStore;

// Largest size any config key may give: token ids are int32, and head counts, head sizes and
// layer counts are held in int.
inline constexpr int64_t kMaxConfigSize = INT32_MAX;

// A required size: an integer in [1, kMaxConfigSize].
int64_t config_size(const JsonConfig& c, const std::string& key);
// The same for an optional key (null counts as absent): `fallback` when absent.
int64_t config_size_or(const JsonConfig& c, const std::string& key, int64_t fallback);
// A float setting that must be finite and ≥ 0 (layer norm epsilons).
double config_epsilon(const JsonConfig& c, const std::string& key, double fallback);

// A number that must be finite and > 0 (query_pre_attn_scalar, logits_scaling): `fallback` when absent.
double config_positive(const JsonConfig& c, const std::string& key, double fallback);
// An optional feature given by a positive number (softcaps): `fallback` when the key is absent,
// 0 (off) when it is null, else it must be finite and > 0.
double config_optional_positive(const JsonConfig& c, const std::string& key, double fallback);

// Throws naming both keys unless `a` (config key key_a) is a multiple of `b` (key_b).
void check_divisible(const JsonConfig& c, const std::string& key_a, int64_t a, const std::string& key_b, int64_t b);

// The config's layer count (key) must not exceed the layers the weights hold under
// `prefix` (prefix + "0.", prefix + "1.", …): checked before per-layer state is allocated, so
// num_hidden_layers: 1000000000 is an Error naming the key, not std::bad_alloc. Fewer layers than
// the weights hold load, as in transformers (the rest are reported as unused tensors).
void check_layer_count(const JsonConfig& c, const std::string& key, int64_t layers, const WeightStore& weights,
                       const std::string& prefix);

// The longest sequence a model accepts, and where that limit comes from (for errors).
struct PositionLimit {
  int64_t max = 0;
  std::string why;  // "config.json: max_position_embeddings = 128"
  std::string fix;  // how to allow longer sequences, or empty for a hard limit (a table)
};

// Throws Error(kInvalidInput) naming the limit and the length when length > limit.max.
// `what`: "a sequence", "an encoder input"…; `hint`: what the caller can shorten.
void check_sequence_length(const PositionLimit& limit, int64_t length, const std::string& what,
                           const std::string& hint = "");
// check_sequence_length for new_state's max_length (prompt + new tokens).
void check_state_length(const PositionLimit& limit, int64_t max_length);

// The limit of models whose positions are computed: AUTOLM_MAX_POSITIONS when set, else
// `configured` (with `why`) when > 0, else kDefaultComputedPositions.
PositionLimit computed_position_limit(int64_t configured, const std::string& why);

// Refuses a forward pass whose activation scratch (floats) would not fit in memory.
void check_scratch(double floats, int64_t tokens);

}  // namespace autolm
