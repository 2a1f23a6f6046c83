// Minimal float32 tensors: a non-owning view (weights, mmapped or converted at load) and an
// owning buffer (activations, caches). PyTorch dimension order throughout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autolm/error.h"

namespace autolm {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Read-only float32 view of a weight. Cheap to copy.
struct TensorView {
  const float* data = nullptr;
  Shape shape;

  bool empty() const { return data == nullptr; }
  int64_t dim(int i) const { return shape[i < 0 ? shape.size() + i : i]; }
  int64_t numel() const { return autolm::numel(shape); }
  // Row r of a 2-D tensor.
  const float* row(int64_t r) const { return data + r * shape.back(); }
};

// Owning float32 buffer that only grows: resize() to a size it already had never allocates,
// so per-token code can call it freely once the first step has sized it.
class Buffer {
 public:
  float* resize(size_t n) {
    if (data_.size() < n) data_.resize(n);
    size_ = n;
    return data_.data();
  }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  size_t size() const { return size_; }

 private:
  std::vector<float> data_;
  size_t size_ = 0;
};

}  // namespace autolm
