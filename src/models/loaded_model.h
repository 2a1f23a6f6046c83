// Base of every implemented model: owns the weight files (mmapped) and any tensors rebuilt at
// load (transposed Conv1D weights, fused/split projections), so views stay valid for its life.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "autolm/model.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace autolm {

class LoadedModel : public Model {
 public:
  int64_t parameter_count() const override { return parameter_count_; }
  std::vector<std::string> weight_dtypes() const override { return dtypes_; }
  std::vector<std::string> unused_tensors() const override { return unused_; }

 protected:
  LoadedModel(ModelConfig config, std::unique_ptr<WeightStore> weights);
  // Call at the end of the family constructor: records tensors never looked up.
  void finish_loading();

  // GPT-2's Conv1D stores (in, out); returns the (out, in) transpose as linear() expects.
  TensorView require_transposed(const std::string& name, const Shape& file_shape);
  // Rows [begin, begin + count) of a 2-D weight (splitting fused qkv_proj / gate_up_proj); a
  // view into the same memory, no copy.
  static TensorView rows(const TensorView& w, int64_t begin, int64_t count);

  std::unique_ptr<WeightStore> weights_;

 private:
  int64_t parameter_count_ = 0;
  std::vector<std::string> dtypes_, unused_;
};

}  // namespace autolm
