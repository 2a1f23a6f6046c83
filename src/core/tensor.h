// Minimal float32 tensors: a non-owning view (weights, mmapped or converted at load) and an
// owning buffer (activations, caches). PyTorch dimension order throughout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autolm/error.h"
#include "core/dtype.h"

namespace autolm {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s);
struct TensorView;
// out = row r of a 2-D weight as float32, whatever its storage dtype (embedding lookups).
void copy_row(const TensorView& w, int64_t r, float* out);

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Read-only view of a weight. Cheap to copy. Most weights are float32 (`data`); large matrices
// may stay in their storage dtype (BF16/F16 mmapped in place), be int8 with per-row scales or
// int4 with per-group scales and zero points (core/int4.h), in which case `data` is null and
// `qdata`/`dtype`/`scales`/`zeros`/`group` describe them. Only linear() and copy_row() accept
// the non-float32 forms.
struct TensorView {
  const float* data = nullptr;
  Shape shape;
  DType dtype = DType::kF32;
  const void* qdata = nullptr;    // non-F32 storage
  const float* scales = nullptr;  // kI8: (rows) one scale per row; kI4: (rows, cols / group)
  const uint8_t* zeros = nullptr; // kI4: (rows, cols / group) zero points, 0..15
  int64_t group = 0;              // kI4: weights per group (32 or 64)
  // kI4 from an act-order GPTQ checkpoint: packed column j holds input feature in_perm[j]
  // (cols entries); linear() gathers the activations in that order. Null: the identity.
  const int32_t* in_perm = nullptr;

  bool empty() const { return data == nullptr && qdata == nullptr; }
  bool is_f32() const { return dtype == DType::kF32; }
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
