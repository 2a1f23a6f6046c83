#include "nn/weight_source.h"
#include "core/check.h"

namespace autolm {

TensorView weight_rows(const TensorView& w, int64_t begin, int64_t count) {
  AUTOLM_CHECK(w.shape.size() == 2 && begin >= 0 && count >= 0 && begin + count <= w.shape[0], "row slice out of range");
  TensorView v = w;
  v.shape = {count, w.shape[1]};
  const int64_t offset = begin * w.shape[1];
  if (w.dtype == DType::kI4) {  // packed nibbles, per-group scales and zero points (core/int4.h)
    const int64_t groups = w.shape[1] / w.group;
    v.qdata = static_cast<const uint8_t*>(w.qdata) + offset / 2;
    v.scales = w.scales + begin * groups;
    v.zeros = w.zeros + begin * groups;
    return v;
  }
  if (w.is_f32()) v.data = w.data + offset;
  else v.qdata = static_cast<const char*>(w.qdata) + offset * int64_t(dtype_size(w.dtype));
  if (w.scales) v.scales = w.scales + begin;
  return v;
}

TensorView vector_slice(const TensorView& v, int64_t begin, int64_t count) {
  if (v.empty()) return {};
  AUTOLM_CHECK(v.is_f32() && v.shape.size() == 1 && begin >= 0 && begin + count <= v.shape[0], "vector slice out of range");
  return TensorView{v.data + begin, {count}};
}

}  // namespace autolm
