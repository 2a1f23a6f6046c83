#include "models/loaded_model.h"

#include <algorithm>

#include "core/memory.h"
#include "core/thread_pool.h"

namespace autolm {

namespace {

// What transformers 5.24 knows per architecture when it reads a checkpoint: the head model's
// base_model_prefix (keys load with it added or removed), and `_keys_to_ignore_on_load_unexpected`
// (plus "rotary_emb\.inv_freq", added for models with a rotary buffer) — searched as regexes.
struct CheckpointRules {
  std::vector<const char*> model_types;
  const char* base_model_prefix;
  std::vector<std::string> ignore_unexpected;
};

const std::vector<CheckpointRules>& checkpoint_rules() {
  static const std::vector<CheckpointRules> rules = {
      {{"gpt2"}, "transformer", {"attn.bias", "crossattention.bias"}},  // GPT2PreTrainedModel
      {{"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma3_text"}, "model", {R"(rotary_emb\.inv_freq)"}},
      {{"t5", "mt5"}, "transformer", {"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"}},
      {{"umt5"}, "transformer", {}},
      {{"bart"}, "model", {"encoder.version", "decoder.version"}},  // BartPreTrainedModel
      {{"mbart", "marian", "pegasus", "m2m_100"}, "model", {}},
  };
  return rules;
}

}  // namespace

LoadedModel::LoadedModel(ModelConfig config, std::unique_ptr<WeightStore> weights) : weights_(std::move(weights)) {
  config_ = std::move(config);
  for (const auto& r : checkpoint_rules())
    for (const char* type : r.model_types)
      if (config_.model_type == type) {
        weights_->alias_base_model_prefix(r.base_model_prefix);
        weights_->ignore_unused(r.ignore_unexpected);
      }
  parameter_count_ = weights_->parameter_count();
  for (const auto& d : weights_->dtypes()) dtypes_.push_back(d);
}

void LoadedModel::finish_loading() { unused_ = weights_->unused(); }

void LoadedModel::describe_dim(int64_t value, const std::string& label) { dim_labels_.emplace_back(value, label); }

void LoadedModel::check_shape(const std::string& name, const Shape& expected) const {
  // (A GPTQ layer's ".weight" has no TensorInfo: WeightStore checks its shape itself.)
  if (expected.empty() || !weights_->index().count(name)) return;
  const TensorInfo& info = *weights_->index().at(name);
  if (info.shape == expected) return;
  // The labels of every expected dimension the tensor disagrees with.
  std::vector<std::string> keys;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i < info.shape.size() && info.shape[i] == expected[i] && info.shape.size() == expected.size()) continue;
    for (const auto& [value, label] : dim_labels_) {
      const std::string k = label + " = " + std::to_string(value);
      if (value == expected[i] && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
  }
  if (keys.empty()) return;  // nothing the config sets: WeightStore's own error names the tensor
  std::string named;
  for (size_t i = 0; i < keys.size(); ++i) named += (i ? (i + 1 == keys.size() ? " or " : ", ") : "") + keys[i];
  throw Error(ErrorKind::kInvalidInput, config_source_ + ": " + named + " disagree" + (keys.size() == 1 ? "s" : "") +
                                            " with the weights: " + *info.file + ": tensor \"" + name +
                                            "\" has shape " + shape_str(info.shape) + ", expected " +
                                            shape_str(expected));
}

TensorView LoadedModel::require(const std::string& name, const Shape& expected) {
  check_shape(name, expected);
  return weights_->require(name, expected);
}

TensorView LoadedModel::optional(const std::string& name, const Shape& expected) {
  check_shape(name, expected);
  return weights_->optional(name, expected);
}

TensorView LoadedModel::require_matrix(const std::string& name, const Shape& expected) {
  check_shape(name, expected);
  return weights_->require_matrix(name, expected);
}

TensorView LoadedModel::require_transposed(const std::string& name, const Shape& file_shape) {
  check_shape(name, file_shape);
  // int8 / int4: the transposed, quantized matrix of an earlier load (io/weight_cache.h).
  if (TensorView cached = weights_->cached_adopted(name, file_shape); !cached.empty()) return cached;
  TensorView w = require(name, file_shape);
  const int64_t in = w.shape[0], out = w.shape[1];
  check_allocation(double(in) * double(out) * sizeof(float), "the transposed copy of tensor \"" + name + "\"", "");
  std::vector<float> t(size_t(in * out));  // (out, in)
  // 32×32 tiles (both sides stay in cache), bands of output rows split across threads.
  constexpr int64_t kTile = 32;
  ThreadPool::global().parallel_for((out + kTile - 1) / kTile, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t o0 = b0 * kTile; o0 < std::min(out, b1 * kTile); o0 += kTile)
      for (int64_t i0 = 0; i0 < in; i0 += kTile)
        for (int64_t o = o0; o < std::min(out, o0 + kTile); ++o)
          for (int64_t i = i0; i < std::min(in, i0 + kTile); ++i) t[o * in + i] = w.data[i * out + o];
  });
  // Only the transposed copy is used from here on: drop the file's pages and any upcast copy.
  weights_->release_file_pages(name);
  weights_->release_converted(w.data);
  return weights_->adopt_matrix(std::move(t), {out, in}, name);
}

TensorView LoadedModel::lm_head(const std::string& head_name, const TensorView& embedding,
                                const std::string& embedding_name, bool tied, const Shape& shape) {
  if (weights_->has(head_name)) {
    if (!weights_->same_bytes(head_name, embedding_name)) return require_matrix(head_name, shape);
    weights_->mark_used(head_name);  // a tied copy: the embedding's matrix serves both
    return embedding;
  }
  return tied ? embedding : require_matrix(head_name, shape);  // throws: missing lm_head.weight
}

}  // namespace autolm
