// safetensors reader: single file or sharded (model.safetensors.index.json), memory-mapped,
// every header field validated against the file before any tensor is touched.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "io/mmap.h"

namespace autolm {

struct TensorInfo {
  std::string dtype;        // as written in the header ("F32", "BF16", "I64"…)
  Shape shape;
  const unsigned char* ptr;  // start of the tensor's bytes inside the mapping
  size_t nbytes;
  const std::string* file;   // path of the file that holds it (for error messages)
};

// Parses one safetensors file; throws Error naming the file on any inconsistency.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::string& path() const { return map_.path(); }

 private:
  MappedFile map_;
  std::map<std::string, TensorInfo> tensors_;
};

// All weights of a model folder, looked up by HF tensor name and handed out as float32 views.
// F32 tensors are used in place; BF16/F16 are converted once, at load.
class WeightStore {
 public:
  // Opens `dir/model.safetensors`, or the shards listed in `dir/model.safetensors.index.json`.
  static std::unique_ptr<WeightStore> open_folder(const std::string& dir);
  explicit WeightStore(const std::vector<std::string>& files);

  bool has(const std::string& name) const { return index_.count(name) > 0; }
  // A tensor the model cannot run without; shape checked when `expected` is non-empty.
  TensorView require(const std::string& name, const Shape& expected = {});
  // A tensor that may be absent (returns an empty view).
  TensorView optional(const std::string& name, const Shape& expected = {});

  std::vector<std::string> unused() const;  // present in the files, never requested
  std::set<std::string> dtypes() const;     // storage dtypes seen
  int64_t parameter_count() const;
  const std::map<std::string, const TensorInfo*>& index() const { return index_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> index_;
  std::set<std::string> used_;
  std::deque<std::vector<float>> converted_;  // owned float32 copies of non-F32 tensors
};

}  // namespace autolm
