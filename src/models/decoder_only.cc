#include "models/decoder_only.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/check.h"
#include "ops/linear.h"

namespace autolm {

DecoderOnlyModel::DecoderOnlyModel(ModelConfig config, const JsonConfig& c, std::unique_ptr<WeightStore> weights)
    : LoadedModel(std::move(config), std::move(weights)) {
  set_config_source(c.source());
}

void DecoderOnlyModel::read_sizes(const JsonConfig& c, const std::string& layers_prefix, const DecoderKeys& k,
                                  int64_t default_intermediate) {
  DecoderSizes& s = sizes_;
  // Every size is validated before it divides, multiplies or allocates anything.
  s.hidden_size = config_size(c, k.hidden_size);
  s.num_attention_heads = int(config_size(c, k.num_attention_heads));
  s.num_key_value_heads = int(config_size_or(c, k.num_key_value_heads, s.num_attention_heads));
  check_divisible(c, k.num_attention_heads, s.num_attention_heads, k.num_key_value_heads, s.num_key_value_heads);
  const bool explicit_head_dim = c.has(k.head_dim);
  if (!explicit_head_dim) check_divisible(c, k.hidden_size, s.hidden_size, k.num_attention_heads, s.num_attention_heads);
  s.head_dim = int(config_size_or(c, k.head_dim, s.hidden_size / s.num_attention_heads));
  s.num_hidden_layers = int(config_size(c, k.num_hidden_layers));
  const bool explicit_intermediate = default_intermediate <= 0 || c.has(k.intermediate_size);
  s.intermediate_size = default_intermediate > 0 ? config_size_or(c, k.intermediate_size, default_intermediate)
                                                 : config_size(c, k.intermediate_size);
  check_layer_count(c, k.num_hidden_layers, s.num_hidden_layers, *weights_, layers_prefix);

  // Labels name the keys with their values: "num_attention_heads (4) × head_dim (8) = 32".
  const std::string heads = k.num_attention_heads + " (" + std::to_string(s.num_attention_heads) + ")",
                    kv_heads = k.num_key_value_heads + " (" + std::to_string(s.num_key_value_heads) + ")",
                    hd = (explicit_head_dim ? k.head_dim + " (" : k.head_dim + " = " + k.hidden_size + " / " + k.num_attention_heads + " (") +
                         std::to_string(s.head_dim) + ")",
                    inter = explicit_intermediate ? k.intermediate_size
                                                  : k.intermediate_size + " = 4 × " + k.hidden_size;
  describe_dim(config_.vocab_size, "vocab_size");
  describe_dim(s.hidden_size, k.hidden_size);
  describe_dim(s.intermediate_size, inter);
  describe_dim(2 * s.intermediate_size, "2 × " + k.intermediate_size + " (" + std::to_string(s.intermediate_size) + ")");
  describe_dim(s.head_dim, explicit_head_dim ? k.head_dim : k.hidden_size + " / " + k.num_attention_heads);
  describe_dim(s.q_out(), heads + " × " + hd);
  describe_dim(s.kv_out(), kv_heads + " × " + hd);
  describe_dim(s.q_out() + 2 * s.kv_out(), "(" + heads + " + 2 × " + kv_heads + ") × " + hd);
}

std::vector<std::string> DecoderOnlyModel::read_layer_types(const JsonConfig& c, std::vector<std::string> fallback) const {
  if (!c.has("layer_types")) return fallback;
  auto types = c.get<std::vector<std::string>>("layer_types");
  if (int64_t(types.size()) != sizes_.num_hidden_layers)
    throw Error(ErrorKind::kInvalidInput, c.source() + ": layer_types has " + std::to_string(types.size()) +
                                              " entries for num_hidden_layers " + std::to_string(sizes_.num_hidden_layers));
  for (const auto& t : types)
    if (t != "full_attention" && t != "sliding_attention")
      throw Error(ErrorKind::kUnsupported, c.source() + ": layer_types holds \"" + t +
                                               "\" (supported: full_attention, sliding_attention)");
  return types;
}

std::unique_ptr<RotaryEmbedding> DecoderOnlyModel::make_rope(const JsonConfig& c, const std::string& layer_type,
                                                             double partial) const {
  return make_rope(c, rope_parameters_for(c, layer_type), partial);
}

std::unique_ptr<RotaryEmbedding> DecoderOnlyModel::make_rope(const JsonConfig& c, const JsonConfig& params,
                                                             double partial, const std::string& key) const {
  if (!(partial > 0 && partial <= 1))
    throw Error(ErrorKind::kInvalidInput, c.source() + ": key \"" + key + "\" must be in (0, 1] (" +
                                              (c.has(key) ? c.raw().at(key).dump() : std::to_string(partial)) + ")");
  return std::make_unique<RotaryEmbedding>(params, sizes_.head_dim, partial,
                                           config_size_or(c, "max_position_embeddings", 0),
                                           config_size_or(c, "original_max_position_embeddings", 0));
}

void DecoderOnlyModel::set_computed_positions(const JsonConfig& c, const RotaryEmbedding* rope) {
  // RoPE computes any position, but the model is only meant for its configured context:
  // longer sequences are refused (AUTOLM_MAX_POSITIONS allows them, as transformers would).
  const int64_t max_pos = config_size_or(c, "max_position_embeddings", 0);
  const int64_t context = max_pos > 0 && rope ? rope->context_length(max_pos) : max_pos;
  positions_ = computed_position_limit(
      context, c.source() + ": max_position_embeddings = " + std::to_string(max_pos) +
                   (context != max_pos ? " with rope scaling to " + std::to_string(context) : ""));
  config_.max_positions = positions_.max;
}

void DecoderOnlyModel::set_table_positions(int64_t rows, const std::string& why) {
  positions_ = {rows, why, ""};
  config_.max_positions = rows;
}

SelfAttentionOptions DecoderOnlyModel::attention_options() const {
  SelfAttentionOptions o;
  o.hidden_size = sizes_.hidden_size;
  o.num_heads = sizes_.num_attention_heads;
  o.num_kv_heads = sizes_.num_key_value_heads;
  o.head_dim = sizes_.head_dim;
  o.scale = float(std::pow(sizes_.head_dim, -0.5));  // self.scaling = head_dim**-0.5
  return o;
}

std::unique_ptr<DecodeState> DecoderOnlyModel::new_state(int batch, int max_length, int) const {
  check_state_length(positions_, max_length);
  return std::make_unique<CausalState>(sizes_.num_hidden_layers, batch, sizes_.num_key_value_heads, max_length,
                                       sizes_.head_dim);
}

int64_t DecoderOnlyModel::kv_bytes_per_token() const {
  return 2 * int64_t(sizes_.num_hidden_layers) * sizes_.num_key_value_heads * sizes_.head_dim * 4;
}

namespace {
// Rows per forward pass of decode_batch: as many as linear() takes in one pass over the weights
// (float32 on AVX-512). Where linear() switches kernels below that (other formats and ISAs: 16
// rows), the rows still agree with what they get alone to float rounding (another summation
// order; the batched = unbatched tests cover it).
constexpr int kBatchRows = int(kLinearRowsKernelMaxRows);
}  // namespace

std::span<const float> DecoderOnlyModel::decode_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                                      std::span<const int32_t> mask, BatchScratch& scratch) const {
  if (!scratch.view) scratch.view = new_state(1, 1, 1);
  auto* view = dynamic_cast<CausalState*>(scratch.view.get());
  AUTOLM_CHECK(view, "decode_batch: the scratch holds another model's state");
  thread_local std::vector<KVRow> rows;                       // one slice's rows: (state, row) in order
  thread_local std::vector<std::pair<KVCache*, int>> before;  // each cache and its length, to undo a failed step
  before.clear();
  size_t total = 0;
  for (DecodeState* base : states) {
    auto* s = dynamic_cast<CausalState*>(base);
    if (!s || s->cache.ragged() || typeid(*s) != typeid(*view))  // not one of ours: one by one
      return Model::decode_batch(states, ids, mask, scratch);
    before.emplace_back(&s->cache, s->cache.length());
    total += size_t(s->batch_size());
  }
  if (ids.size() != total || (!mask.empty() && mask.size() != total))
    throw Error(ErrorKind::kInvalidInput, "decode_batch: " + std::to_string(ids.size()) + " ids for " +
                                              std::to_string(total) + " rows");
  if (total == 0) return {};
  const size_t V = size_t(config_.vocab_size);
  std::span<const float> logits;
  try {
    size_t first = 0;  // first row of the slice
    for (size_t i = 0; i < states.size();) {
      rows.clear();  // states i … j-1, at most kBatchRows rows (or one larger state alone)
      size_t j = i;
      for (; j < states.size() && (rows.empty() || int(rows.size()) + states[j]->batch_size() <= kBatchRows); ++j)
        for (int r = 0; r < states[j]->batch_size(); ++r) rows.push_back({&static_cast<CausalState*>(states[j])->cache, r});
      view->cache.bind_rows(rows);
      const size_t n = rows.size();
      logits = decode(ids.subspan(first, n), mask.empty() ? mask : mask.subspan(first, n), 1, *view, false);  // [n, vocab]
      view->cache.bind_rows({});
      if (n < total) {  // several slices: gathered in the scratch
        scratch.logits.resize(total * V);
        std::copy(logits.begin(), logits.end(), scratch.logits.begin() + std::ptrdiff_t(first * V));
      }
      first += n;
      i = j;
    }
  } catch (...) {
    view->cache.bind_rows({});
    for (auto& [cache, length] : before)
      if (cache->length() > length) cache->truncate(length);  // the step appended, then failed
    throw;
  }
  return logits.size() == total * V ? logits : std::span<const float>(scratch.logits);  // one slice: in place
}

int DecoderOnlyModel::begin_decode(CausalState& s, std::span<const int32_t> ids, std::span<const int32_t> attention_mask,
                                   int T, bool all_positions, double floats_per_token) const {
  const int start = begin_causal_step(s, ids, attention_mask, T, config_.vocab_size);
  const int64_t N = int64_t(s.batch_size()) * T, out_rows = all_positions ? N : s.batch_size();
  check_scratch(double(N) * floats_per_token + double(out_rows) * double(sizes_.hidden_size + config_.vocab_size), N);
  return start;
}

}  // namespace autolm
