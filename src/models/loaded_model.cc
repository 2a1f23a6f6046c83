#include "models/loaded_model.h"

namespace autolm {

LoadedModel::LoadedModel(ModelConfig config, std::unique_ptr<WeightStore> weights) : weights_(std::move(weights)) {
  config_ = std::move(config);
  parameter_count_ = weights_->parameter_count();
  for (const auto& d : weights_->dtypes()) dtypes_.push_back(d);
}

void LoadedModel::finish_loading() { unused_ = weights_->unused(); }

TensorView LoadedModel::require_transposed(const std::string& name, const Shape& file_shape) {
  TensorView w = weights_->require(name, file_shape);
  const int64_t in = w.shape[0], out = w.shape[1];
  owned_.emplace_back(size_t(in * out));
  float* t = owned_.back().data();
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) t[o * in + i] = w.data[i * out + o];
  return TensorView{t, {out, in}};
}

TensorView LoadedModel::rows(const TensorView& w, int64_t begin, int64_t count) {
  AUTOLM_CHECK(w.shape.size() == 2 && begin + count <= w.shape[0], "row slice out of range");
  return TensorView{w.data + begin * w.shape[1], {count, w.shape[1]}};
}

}  // namespace autolm
