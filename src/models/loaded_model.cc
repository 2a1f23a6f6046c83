#include "models/loaded_model.h"

#include <algorithm>

#include "core/thread_pool.h"

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
  return weights_->adopt_matrix(std::move(t), {out, in});
}

TensorView LoadedModel::rows(const TensorView& w, int64_t begin, int64_t count) {
  AUTOLM_CHECK(w.shape.size() == 2 && begin + count <= w.shape[0], "row slice out of range");
  TensorView v = w;
  v.shape = {count, w.shape[1]};
  const int64_t offset = begin * w.shape[1];
  if (w.is_f32()) v.data = w.data + offset;
  else v.qdata = static_cast<const char*>(w.qdata) + offset * int64_t(dtype_size(w.dtype));
  if (w.scales) v.scales = w.scales + begin;
  return v;
}

}  // namespace autolm
