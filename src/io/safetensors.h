// safetensors reader: single file or sharded (model.safetensors.index.json), memory-mapped,
// every header field validated against the file before any tensor is touched.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "io/quantized.h"
#include "io/mmap.h"

namespace autolm {

struct TensorInfo {
  std::string dtype;        // as written in the header ("F32", "BF16", "I64"…)
  Shape shape;
  const unsigned char* ptr;  // start of the tensor's bytes inside the mapping
  size_t nbytes;
  const std::string* file;   // path of the file that holds it (for error messages)
  const MappedFile* mapping = nullptr;
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

// How large matrices (linear weights, embeddings) are held in memory.
enum class WeightFormat {
  kAuto,     // F32 stays F32; BF16/F16 stay in place (mmapped, 2 bytes/weight, converted in kernels)
  kFloat32,  // everything upcast to float32 at load
  kInt8,     // weight-only int8 with one float32 scale per output row, quantized at load
  kInt4,     // group-wise 4-bit (32 weights per group, scale + zero point), quantized at load
  kInt4G64,  // the same with 64 weights per group
};
// "auto" | "float32" | "int8" | "int4" | "int4-g64" (as the CLI's --dtype); throws Error naming
// the value otherwise.
WeightFormat parse_weight_format(const std::string& name);

// All weights of a model folder, looked up by HF tensor name. Vectors (norms, biases) are
// always float32 views; matrices follow the WeightFormat. F32 tensors are used in place.
class WeightStore {
 public:
  // Opens, in transformers' order of preference, `dir/model.safetensors`, the shards listed in
  // `dir/model.safetensors.index.json`, `dir/pytorch_model.bin`, or the shards listed in
  // `dir/pytorch_model.bin.index.json` (PyTorch checkpoints: io/torch_bin.h).
  static std::unique_ptr<WeightStore> open_folder(const std::string& dir, WeightFormat format = WeightFormat::kAuto);
  // Safetensors files, or PyTorch checkpoints for names ending in ".bin".
  explicit WeightStore(const std::vector<std::string>& files, WeightFormat format = WeightFormat::kAuto);
  ~WeightStore();

  // Also true for "<layer>.weight" of a pre-quantized checkpoint whose file holds the layer's
  // quantized tensors ("<layer>.qweight", "<layer>.weight_packed").
  bool has(const std::string& name) const { return index_.count(name) > 0 || !quantized_layer(name).empty(); }
  // A pre-quantized checkpoint (config.json quantization_config, io/quantized.h): "<layer>.weight"
  // matrices are served from the layer's GPTQ / AWQ / compressed-tensors tensors, repacked into
  // int4 whatever the format.
  void use_quantized(const QuantConfig& config) { quant_ = config; }
  // A tensor the model cannot run without; shape checked when `expected` is non-empty.
  TensorView require(const std::string& name, const Shape& expected = {});
  // A tensor that may be absent (returns an empty view).
  TensorView optional(const std::string& name, const Shape& expected = {});
  // A 2-D matrix used by linear() or as an embedding table (copy_row): held per the format.
  TensorView require_matrix(const std::string& name, const Shape& expected = {});
  // A float32 matrix built at load (e.g. a transposed Conv1D), stored per the format; `name`
  // (the tensor it came from) is for errors.
  TensorView adopt_matrix(std::vector<float> values, const Shape& shape, const std::string& name = "");
  WeightFormat format() const { return format_; }
  // The caller keeps its own copy of tensor `name` (e.g. transposed): drops the file's pages from
  // the resident set. Reading the mapping again stays valid (pages come back from the file).
  void release_file_pages(const std::string& name);
  // Frees a float32 copy that require()/optional() made (a BF16/F16 tensor upcast) once the
  // caller has built what it keeps from it; no-op for views into the file.
  void release_converted(const float* data);

  // The cache of quantized weights (io/weight_cache.h) in folder `dir`: matrices it holds for
  // these files are memory-mapped instead of quantized, the others quantized and written by
  // save_cache() once the model is built. Only for the quantized formats (a no-op otherwise).
  // `config_text`: config.json as parsed (part of the key).
  void use_cache(const std::string& dir, const std::string& config_text);
  void save_cache();
  // The cached (out, in) matrix that adopt_matrix() made from the (in, out) tensor `name` (a
  // transposed Conv1D) at an earlier load, marking `name` used; empty when not cached.
  TensorView cached_adopted(const std::string& name, const Shape& file_shape);

  // Every tensor also answers to its name with `prefix` + "." added or removed: a checkpoint
  // of the base model ("h.0.attn…", "shared.weight") loads into the head model that expects
  // "transformer.h.0…" / "model.shared.weight", and a head checkpoint's prefixed keys load
  // into a model that has no such prefix, as transformers renames keys by the architecture's
  // base_model_prefix. A name the files hold under both spellings keeps its own tensor.
  void alias_base_model_prefix(const std::string& prefix);
  // Regular expressions searched in the names of unused tensors, as transformers'
  // `_keys_to_ignore_on_load_unexpected`: buffers it drops silently ("attn.bias",
  // "rotary_emb.inv_freq") are not reported by unused(). They are never loaded either.
  void ignore_unused(const std::vector<std::string>& patterns);

  // Whether tensors `a` and `b` hold the same dtype, shape and bytes (a tied copy).
  bool same_bytes(const std::string& a, const std::string& b) const;
  // Records `name` as used without materialising it (a tied alias of a tensor already held).
  void mark_used(const std::string& name) { if (has(name)) used_.insert(file_key(name)); }
  std::vector<std::string> unused() const;  // present in the files, never requested
  std::set<std::string> dtypes() const;     // storage dtypes seen
  int64_t parameter_count() const;
  const std::map<std::string, const TensorInfo*>& index() const { return index_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::vector<std::unique_ptr<class TorchBinFile>> bins_;
  std::string describe_files() const;
  std::map<std::string, const TensorInfo*> index_;  // file names and their prefix aliases
  std::map<std::string, std::string> alias_of_;      // alias → the name in the file
  std::vector<std::string> ignored_;                 // ignore_unused patterns
  std::set<std::string> used_;                       // file names
  const std::string& file_key(const std::string& name) const {
    auto it = alias_of_.find(name);
    return it == alias_of_.end() ? name : it->second;
  }
  // `what` names the tensor in errors (non-finite weights are refused).
  TensorView quantize_int8(const float* values, const Shape& shape, const std::string& what);
  // Group-wise int4 (core/int4.h); also refuses in_features not a multiple of the group size.
  TensorView quantize_int4(const float* values, const Shape& shape, const std::string& what);
  // quantize_int8 or quantize_int4 per the format.
  TensorView quantize(const float* values, const Shape& shape, const std::string& what);
  bool quantized() const { return format_ == WeightFormat::kInt8 || format_ == WeightFormat::kInt4 || format_ == WeightFormat::kInt4G64; }
  const TensorInfo& lookup(const std::string& name, const Shape& expected);
  // "<layer>" when `name` is "<layer>.weight" served from pre-quantized tensors, else "".
  std::string quantized_layer(const std::string& name) const;
  TensorView quantized_matrix(const std::string& layer, const Shape& expected);
  std::optional<QuantConfig> quant_;
  std::deque<Int4Matrix> repacked_;  // pre-quantized layers in the int4 layout
  std::unique_ptr<class WeightCache> cache_;
  TensorView cached(const std::string& cache_name, const Shape& shape) const;

  WeightFormat format_;
  std::deque<std::vector<float>> converted_;  // owned float32 copies / scales
  std::deque<std::vector<int8_t>> quantized_; // owned int8 matrices
  std::deque<std::vector<uint8_t>> packed_;   // owned int4 nibbles and zero points
};

}  // namespace autolm
