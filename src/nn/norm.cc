#include "nn/norm.h"

#include "ops/norms.h"
#include "core/check.h"

namespace autolm {

Norm Norm::load(WeightSource& w, const std::string& name, int64_t dim, const NormOptions& options, int64_t groups) {
  Norm n;
  n.options_ = options;
  n.dim_ = dim;
  n.groups_ = groups;
  const Shape shape = groups == 1 ? Shape{dim} : Shape{groups, dim};
  const TensorView weight = options.weight ? w.require(name + ".weight", shape) : TensorView{};
  const TensorView bias = options.bias ? w.require(name + ".bias", shape) : TensorView{};
  for (int64_t g = 0; g < groups; ++g) {  // group g: row g of a (groups, dim) tensor
    n.weight_.push_back(weight.empty() ? TensorView{} : TensorView{weight.data + g * dim, {dim}});
    n.bias_.push_back(bias.empty() ? TensorView{} : TensorView{bias.data + g * dim, {dim}});
  }
  return n;
}

Norm Norm::load_modules(WeightSource& w, const std::vector<std::string>& names, int64_t dim, const NormOptions& options) {
  Norm n;
  n.options_ = options;
  n.dim_ = dim;
  n.groups_ = int64_t(names.size());
  for (const std::string& name : names) {
    n.weight_.push_back(options.weight ? w.require(name + ".weight", {dim}) : TensorView{});
    n.bias_.push_back(options.bias ? w.require(name + ".bias", {dim}) : TensorView{});
  }
  return n;
}

void Norm::forward(const float* x, int64_t rows, float* y) const {
  AUTOLM_CHECK(dim_ > 0, "Norm used before load");
  // One group (the common case) is one call over all rows; per-group weights go row by row.
  const int64_t step = groups_ == 1 ? rows : 1;
  for (int64_t r = 0; r < rows; r += step) {
    const int64_t g = groups_ == 1 ? 0 : r % groups_;
    if (options_.kind == NormKind::kRms)
      rms_norm(x + r * dim_, step, dim_, weight_[g], options_.eps, y + r * dim_, options_.unit_offset);
    else
      layer_norm(x + r * dim_, step, dim_, weight_[g], bias_[g], options_.eps, y + r * dim_);
  }
}

}  // namespace autolm
