// Base of every implemented model: owns the weight files (mmapped) and any tensors rebuilt at
// load (transposed Conv1D weights, fused/split projections), so views stay valid for its life.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autolm/model.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "nn/weight_source.h"

namespace autolm {

class LoadedModel : public Model, public WeightSource {
 public:
  int64_t parameter_count() const override { return parameter_count_; }
  std::vector<std::string> weight_dtypes() const override { return dtypes_; }
  std::vector<std::string> unused_tensors() const override { return unused_; }

 protected:
  LoadedModel(ModelConfig config, std::unique_ptr<WeightStore> weights);
  // Call at the end of the family constructor: records tensors never looked up.
  void finish_loading();

  // The config.json keys behind the expected tensor dimensions: a weight whose shape disagrees
  // with the config is reported naming the key(s) and their values as well as the tensor
  // ("config.json: hidden_size = 100 disagrees with the weights: … expected [256, 100]").
  // `label` is the key or the expression of keys ("num_attention_heads × head_dim").
  void describe_dim(int64_t value, const std::string& label);
  void set_config_source(const std::string& source) { config_source_ = source; }
  const std::string& config_source_name() const { return config_source_; }

  // WeightSource (what the nn blocks load through): WeightStore's lookups, with config-naming
  // shape errors (see describe_dim).
  bool has(const std::string& name) const override { return weights_->has(name); }
  TensorView require(const std::string& name, const Shape& expected = {}) override;
  TensorView optional(const std::string& name, const Shape& expected = {}) override;
  TensorView require_matrix(const std::string& name, const Shape& expected = {}) override;

  // The LM head as transformers 5.24 decides it: the file's `head_name` when the file holds one
  // whose values differ from the embedding's — even with tie_word_embeddings (transformers then
  // declines to tie and warns) —, else the embedding when tied (a byte-identical copy in the file
  // counts as used), else `head_name` is required.
  TensorView lm_head(const std::string& head_name, const TensorView& embedding, const std::string& embedding_name,
                     bool tied, const Shape& shape) override;

  // GPT-2's Conv1D stores (in, out); returns the (out, in) transpose as linear() expects.
  TensorView require_transposed(const std::string& name, const Shape& file_shape) override;
  // Rows [begin, begin + count) of a 2-D weight (splitting fused qkv_proj / gate_up_proj); a
  // view into the same memory, no copy.
  static TensorView rows(const TensorView& w, int64_t begin, int64_t count) { return weight_rows(w, begin, count); }

  std::unique_ptr<WeightStore> weights_;

 private:
  // Throws naming the config keys when tensor `name` exists with a shape other than `expected`.
  void check_shape(const std::string& name, const Shape& expected) const;

  int64_t parameter_count_ = 0;
  std::vector<std::string> dtypes_, unused_;
  std::string config_source_ = "config.json";
  std::vector<std::pair<int64_t, std::string>> dim_labels_;
};

}  // namespace autolm
