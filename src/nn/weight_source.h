// Where blocks find their weights at load: HF tensor names in, TensorViews out. Implemented by
// models' LoadedModel (config-naming shape errors, int8 / bf16 per LoadOptions::dtype, unused
// tensor report); the blocks only say which tensors they need and in which form.
#pragma once

#include <string>

#include "core/tensor.h"

namespace autolm {

class WeightSource {
 public:
  virtual bool has(const std::string& name) const = 0;
  // A float32 tensor the block cannot run without (norm weights, biases, position tables);
  // shape checked when `expected` is non-empty.
  virtual TensorView require(const std::string& name, const Shape& expected = {}) = 0;
  // The same, or an empty view when the file lacks it.
  virtual TensorView optional(const std::string& name, const Shape& expected = {}) = 0;
  // A 2-D matrix for linear() / copy_row(), held as LoadOptions::dtype asks (f32, bf16, int8).
  virtual TensorView require_matrix(const std::string& name, const Shape& expected = {}) = 0;
  // A Conv1D weight stored (in, out) (GPT-2 family): returns its (out, in) transpose.
  virtual TensorView require_transposed(const std::string& name, const Shape& file_shape) = 0;
  // The LM head as transformers decides it (see LoadedModel::lm_head).
  virtual TensorView lm_head(const std::string& head_name, const TensorView& embedding,
                             const std::string& embedding_name, bool tied, const Shape& shape) = 0;

 protected:
  ~WeightSource() = default;
};

// Rows [begin, begin + count) of a 2-D weight (fused qkv_proj / gate_up_proj split into its
// parts): a view into the same memory, whatever the storage dtype; no copy.
TensorView weight_rows(const TensorView& w, int64_t begin, int64_t count);
// Elements [begin, begin + count) of a float32 vector (a fused bias split into its parts).
TensorView vector_slice(const TensorView& v, int64_t begin, int64_t count);

}  // namespace autolm
