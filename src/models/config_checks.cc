#include "models/config_checks.h"

#include <cmath>
#include <set>
#include <sstream>

#include "core/memory.h"
#include "io/limits.h"
#include "io/safetensors.h"

namespace autolm {

namespace {

Error bad_value(const JsonConfig& c, const std::string& key, const std::string& why) {
  return Error(ErrorKind::kInvalidInput, c.source() + ": key \"" + key + "\" " + why + " (" + c.raw()[key].dump() + ")");
}

}  // namespace

int64_t config_size(const JsonConfig& c, const std::string& key) {
  const int64_t v = c.get<int64_t>(key);  // refuses non-integers and values past int64, naming the key
  if (v < 1 || v > kMaxConfigSize)
    throw bad_value(c, key, "must be a positive integer of at most " + std::to_string(kMaxConfigSize));
  return v;
}

int64_t config_size_or(const JsonConfig& c, const std::string& key, int64_t fallback) {
  return c.has(key) ? config_size(c, key) : fallback;
}

double config_epsilon(const JsonConfig& c, const std::string& key, double fallback) {
  const double v = c.get_or<double>(key, fallback);
  if (!(std::isfinite(v) && v >= 0)) throw bad_value(c, key, "must be a finite number ≥ 0");
  return v;
}

double config_positive(const JsonConfig& c, const std::string& key, double fallback) {
  const double v = c.get_or<double>(key, fallback);
  if (!(std::isfinite(v) && v > 0)) throw bad_value(c, key, "must be a positive number");
  return v;
}

double config_optional_positive(const JsonConfig& c, const std::string& key, double fallback) {
  if (c.raw().is_object() && c.raw().contains(key) && c.raw()[key].is_null()) return 0.0;
  return c.has(key) ? config_positive(c, key, fallback) : fallback;
}

void check_divisible(const JsonConfig& c, const std::string& key_a, int64_t a, const std::string& key_b, int64_t b) {
  if (b <= 0 || a % b != 0)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": " + key_a + " (" + std::to_string(a) +
                                              ") must be a multiple of " + key_b + " (" + std::to_string(b) + ")");
}

void check_layer_count(const JsonConfig& c, const std::string& key, int64_t layers, const WeightStore& weights,
                       const std::string& prefix) {
  // Layer indexes present under prefix: "model.layers.12.mlp…" → 12.
  std::set<int64_t> present;
  for (auto it = weights.index().lower_bound(prefix); it != weights.index().end(); ++it) {
    const std::string& name = it->first;
    if (name.compare(0, prefix.size(), prefix) != 0) break;
    size_t i = prefix.size();
    int64_t n = 0;
    while (i < name.size() && i < prefix.size() + 10 && name[i] >= '0' && name[i] <= '9') n = n * 10 + (name[i++] - '0');
    if (i > prefix.size() && i < name.size() && name[i] == '.') present.insert(n);
  }
  int64_t held = 0;
  while (present.count(held)) ++held;
  if (layers > held)
    throw Error(ErrorKind::kInvalidInput,
                c.source() + ": " + key + " is " + std::to_string(layers) + " but the weights hold " +
                    std::to_string(held) + " layer" + (held == 1 ? "" : "s") +
                    (held > 0 ? " (" + prefix + "0 … " + prefix + std::to_string(held - 1) + ")" : " under " + prefix));
}

void check_sequence_length(const PositionLimit& limit, int64_t length, const std::string& what,
                           const std::string& hint) {
  if (limit.max > 0 && length > limit.max)
    throw Error(ErrorKind::kInvalidInput, what + " of " + std::to_string(length) + " tokens is longer than the " +
                                              std::to_string(limit.max) + " positions the model supports (" +
                                              limit.why + ")" + (hint.empty() ? "" : "; " + hint) +
                                              (limit.fix.empty() ? "" : "; or " + limit.fix));
}

void check_state_length(const PositionLimit& limit, int64_t max_length) {
  check_sequence_length(limit, max_length, "a sequence", "shorten the prompt or lower max_new_tokens / max_length");
}

PositionLimit computed_position_limit(int64_t configured, const std::string& why) {
  const int64_t env = input_limits().max_positions;
  if (env > 0) return {env, "AUTOLM_MAX_POSITIONS = " + std::to_string(env), "raise AUTOLM_MAX_POSITIONS"};
  const std::string fix = "set AUTOLM_MAX_POSITIONS to allow longer sequences";
  if (configured > 0) return {configured, why, fix};
  return {kDefaultComputedPositions, "the default limit for models without a position table", fix};
}

void check_scratch(double floats, int64_t tokens) {
  check_allocation(floats * sizeof(float), "a forward pass over " + std::to_string(tokens) + " tokens",
                   "shorten the input or lower the batch size");
}

}  // namespace autolm
