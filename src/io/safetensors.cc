#include "io/safetensors.h"

#include <regex>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <regex>

#include "core/int4.h"
#include "core/memory.h"
#include "core/thread_pool.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/sha256.h"
#include "io/torch_bin.h"
#include "io/weight_cache.h"
#include "core/check.h"

namespace autolm {

namespace {

// Bytes per element of every dtype the safetensors format defines; 0 = unknown.
size_t element_size(const std::string& dtype) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
      {"I8", 1},  {"U8", 1},  {"U16", 2}, {"U32", 4},  {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1},
      {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

Error bad(const std::string& path, const std::string& what) {
  return Error(ErrorKind::kInvalidInput, path + ": invalid safetensors file: " + what);
}

}  // namespace

// The format's rules (safetensors' own validate()): an 8-byte little-endian header length, a
// header of at most 100 MB that is a JSON object, every tensor's byte size = dtype size × the
// product of its shape (overflow-checked), and the tensors' [begin, end) ranges, sorted,
// starting at 0, each beginning where the previous ended, the last ending at the file's end:
// no overlap, no hole, nothing outside the data section.
SafetensorsFile::SafetensorsFile(const std::string& path) : map_(path) {
  const uint64_t size = map_.size();
  if (size < 8) throw bad(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  const unsigned char* p = map_.data();
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | p[i];  // little-endian
  const uint64_t max_header = input_limits().safetensors_header_max_bytes;
  if (header_len > max_header)
    throw bad(path, "header length " + std::to_string(header_len) + " is over the format's limit of " +
                        std::to_string(max_header) + " bytes");
  if (header_len > size - 8)
    throw bad(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                        std::to_string(size) + " bytes; truncated?)");
  json header;
  try {
    header = parse_json(std::string_view(reinterpret_cast<const char*>(p + 8), header_len), "header");
  } catch (const Error& e) {
    throw bad(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw bad(path, "header is not a JSON object");
  const unsigned char* data = p + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw bad(path, "__metadata__ is not a JSON object");
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets"))
      throw bad(path, "tensor \"" + name + "\" lacks dtype, shape or data_offsets");
    const json& dtype = entry["dtype"];
    const json& shape = entry["shape"];
    const json& off = entry["data_offsets"];
    if (!dtype.is_string()) throw bad(path, "tensor \"" + name + "\": dtype is not a string");
    if (!shape.is_array()) throw bad(path, "tensor \"" + name + "\": shape is not a list");
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad(path, "tensor \"" + name + "\": data_offsets must be [begin, end] (non-negative integers), got " + off.dump());
    TensorInfo info;
    info.dtype = dtype.get<std::string>();
    const size_t esize = element_size(info.dtype);
    if (esize == 0) throw bad(path, "tensor \"" + name + "\" has unknown dtype \"" + info.dtype + "\"");
    uint64_t bytes = esize;
    bool overflow = false;
    for (auto& d : shape) {
      if (!d.is_number_unsigned())
        throw bad(path, "tensor \"" + name + "\" has a dimension that is not a non-negative integer: " + d.dump());
      const uint64_t v = d.get<uint64_t>();
      if (v > uint64_t(INT64_MAX)) overflow = true;
      else if (v != 0 && bytes > UINT64_MAX / v) overflow = true;
      else bytes *= v;
      info.shape.push_back(int64_t(std::min<uint64_t>(v, uint64_t(INT64_MAX))));
    }
    if (shape.size() > 8) throw bad(path, "tensor \"" + name + "\" has " + std::to_string(shape.size()) + " dimensions");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (overflow || bytes > data_size)
      throw bad(path, "tensor \"" + name + "\" of shape " + shape.dump() + " (" + info.dtype +
                          ") is larger than the file's " + std::to_string(data_size) + "-byte data section");
    if (begin > end || end > data_size)
      throw bad(path, "tensor \"" + name + "\" data_offsets [" + std::to_string(begin) + ", " +
                          std::to_string(end) + "] lie outside the " + std::to_string(data_size) +
                          "-byte data section (truncated file?)");
    if (end - begin != bytes)
      throw bad(path, "tensor \"" + name + "\" spans " + std::to_string(end - begin) + " bytes but " +
                          info.dtype + " " + shape.dump() + " needs " + std::to_string(bytes));
    info.ptr = data + begin;
    info.nbytes = end - begin;
    info.file = &map_.path();
    info.mapping = &map_;
    ranges.push_back({{begin, end}, name});
    tensors_.emplace(name, std::move(info));
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (const auto& [range, name] : ranges) {
    if (range.first < cursor)
      throw bad(path, "tensor \"" + name + "\" data_offsets [" + std::to_string(range.first) + ", " +
                          std::to_string(range.second) + "] overlap the previous tensor's bytes (ending at " +
                          std::to_string(cursor) + ")");
    if (range.first > cursor)
      throw bad(path, "tensor \"" + name + "\" begins at byte " + std::to_string(range.first) +
                          " but the previous tensor ends at " + std::to_string(cursor) + " (a hole in the data section)");
    cursor = range.second;
  }
  if (cursor != data_size)
    throw bad(path, "the tensors cover " + std::to_string(cursor) + " bytes of the " + std::to_string(data_size) +
                        "-byte data section (trailing bytes)");
}

WeightFormat parse_weight_format(const std::string& name) {
  if (name == "auto") return WeightFormat::kAuto;
  if (name == "float32") return WeightFormat::kFloat32;
  if (name == "int8") return WeightFormat::kInt8;
  if (name == "int4") return WeightFormat::kInt4;
  if (name == "int4-g64") return WeightFormat::kInt4G64;
  throw Error(ErrorKind::kInvalidInput, "unknown weight dtype \"" + name + "\" (auto, float32, int8, int4 or int4-g64)");
}

namespace {

// The shard files named by an index's weight_map, each confined to the folder.
std::vector<std::string> shards_of(const std::string& dir, const std::string& index) {
  json j = load_json_file(index);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(ErrorKind::kInvalidInput, index + ": missing required key \"weight_map\"");
  std::set<std::string> shards;
  for (auto& [name, file] : j["weight_map"].items()) {
    if (!file.is_string()) throw Error(ErrorKind::kInvalidInput, index + ": weight_map[\"" + name + "\"] is not a file name");
    shards.insert(model_file(dir, file.get<std::string>(), index + ": weight_map[\"" + name + "\"]"));
  }
  return {shards.begin(), shards.end()};
}

}  // namespace

std::unique_ptr<WeightStore> WeightStore::open_folder(const std::string& dir, WeightFormat format) {
  for (const char* single : {"model.safetensors", "pytorch_model.bin"}) {
    const std::string path = model_file(dir, single, dir);
    const std::string index = model_file(dir, std::string(single) + ".index.json", dir);
    if (file_exists(path)) return std::make_unique<WeightStore>(std::vector<std::string>{path}, format);
    if (file_exists(index)) return std::make_unique<WeightStore>(shards_of(dir, index), format);
  }
  throw Error(ErrorKind::kNotFound, dir + ": no weights (model.safetensors, model.safetensors.index.json, "
                                          "pytorch_model.bin or pytorch_model.bin.index.json)");
}

WeightStore::WeightStore(const std::vector<std::string>& files, WeightFormat format) : format_(format) {
  auto add = [&](const std::string& f, const std::map<std::string, TensorInfo>& tensors) {
    for (auto& [name, info] : tensors) {
      if (index_.count(name)) throw Error(ErrorKind::kInvalidInput, f + ": tensor \"" + name + "\" also appears in " + *index_[name]->file);
      index_[name] = &info;
    }
  };
  for (const auto& f : files) {
    if (f.size() >= 4 && f.compare(f.size() - 4, 4, ".bin") == 0) {
      bins_.push_back(std::make_unique<TorchBinFile>(f));
      add(f, bins_.back()->tensors());
    } else {
      files_.push_back(std::make_unique<SafetensorsFile>(f));
      add(f, files_.back()->tensors());
    }
  }
}

WeightStore::~WeightStore() = default;

std::string WeightStore::describe_files() const {
  if (files_.size() + bins_.size() != 1) return "the model's weight files";
  return files_.empty() ? bins_[0]->path() : files_[0]->path();
}

std::string WeightStore::quantized_layer(const std::string& name) const {
  const std::string suffix = ".weight";
  if (!quant_ || name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  std::string layer = name.substr(0, name.size() - suffix.size());
  return index_.count(layer + quantized_marker(quant_->method)) && !keeps_unquantized(*quant_, layer) ? layer : "";
}

// A pre-quantized layer's tensors, validated and repacked into int4 (io/quantized.h); they
// count as used.
TensorView WeightStore::quantized_matrix(const std::string& layer, const Shape& expected) {
  auto find = [&](const std::string& name) -> const TensorInfo* {
    if (!index_.count(name)) return nullptr;
    return &lookup(name, {});
  };
  repacked_.push_back(load_quantized_layer(*quant_, layer, expected, find));
  return repacked_.back().view();
}

const TensorInfo& WeightStore::lookup(const std::string& name, const Shape& expected) {
  if (!index_.count(name))  // has() answered for a pre-quantized layer's ".weight"
    throw Error(ErrorKind::kUnsupported, describe_files() + ": tensor \"" + name +
                                             "\" is stored quantized and is needed unquantized here");
  const TensorInfo& info = *index_.at(name);
  if (!expected.empty() && info.shape != expected)
    throw Error(ErrorKind::kInvalidInput, *info.file + ": tensor \"" + name + "\" has shape " +
                                              shape_str(info.shape) + ", expected " + shape_str(expected));
  used_.insert(file_key(name));
  return info;
}

TensorView WeightStore::require_matrix(const std::string& name, const Shape& expected) {
  if (!index_.count(name))
    if (const std::string layer = quantized_layer(name); !layer.empty()) return quantized_matrix(layer, expected);
  if (!has(name)) return require(name, expected);  // throws, naming the tensor
  const TensorInfo& info = lookup(name, expected);
  if (info.shape.size() != 2)
    throw Error(ErrorKind::kInvalidInput, *info.file + ": tensor \"" + name + "\" must be 2-D, has shape " + shape_str(info.shape));
  const bool half = info.dtype == "BF16" || info.dtype == "F16";
  if (format_ == WeightFormat::kAuto && half && reinterpret_cast<uintptr_t>(info.ptr) % 2 == 0) {
    TensorView v;
    v.shape = info.shape;
    v.dtype = info.dtype == "BF16" ? DType::kBF16 : DType::kF16;
    v.qdata = info.ptr;
    return v;
  }
  if (!quantized()) return optional(name, expected);
  if (TensorView c = cached(name, info.shape); !c.empty()) return c;  // mapped from the cache
  TensorView q;
  if (info.dtype == "F32" && reinterpret_cast<uintptr_t>(info.ptr) % alignof(float) == 0) {
    q = quantize(reinterpret_cast<const float*>(info.ptr), info.shape, *info.file + ": tensor \"" + name + "\"");
  } else {
    std::vector<float> tmp(size_t(numel(info.shape)));  // upcast, quantize, drop the float copy
    if (info.dtype == "F32") {
      if (!tmp.empty()) std::memcpy(tmp.data(), info.ptr, tmp.size() * 4);
    }
    else if (half) convert_to_f32(info.dtype == "BF16" ? DType::kBF16 : DType::kF16, info.ptr, tmp.data(), tmp.size());
    else return optional(name, expected);  // throws: unsupported dtype, naming the tensor
    q = quantize(tmp.data(), info.shape, *info.file + ": tensor \"" + name + "\"");
  }
  info.mapping->release(info.ptr, info.nbytes);  // the quantized copy replaces the file's bytes
  if (cache_) cache_->record(name, q);
  return q;
}

TensorView WeightStore::adopt_matrix(std::vector<float> values, const Shape& shape, const std::string& name) {
  AUTOLM_CHECK(int64_t(values.size()) == numel(shape), "adopt_matrix size mismatch");
  if (quantized()) {
    // Cached under its own name: a square (in, out) tensor is not its transpose.
    if (!name.empty())
      if (TensorView c = cached("adopt:" + name, shape); !c.empty()) return c;
    TensorView q = quantize(values.data(), shape, name.empty() ? "a matrix built at load" : "tensor \"" + name + "\"");
    if (cache_ && !name.empty()) cache_->record("adopt:" + name, q);
    return q;
  }
  converted_.push_back(std::move(values));
  return TensorView{converted_.back().data(), shape};
}

namespace {

const char* format_name(WeightFormat f) {
  return f == WeightFormat::kInt8 ? "int8" : f == WeightFormat::kInt4 ? "int4" : f == WeightFormat::kInt4G64 ? "int4-g64" : "float";
}

// The quantizer's output on a fixed matrix (ordinary rows, an outlier, a zero row, a subnormal
// row), hashed: part of the cache key, so that a change to the quantization code misses the
// entries the old code wrote even when nobody bumped kWeightCacheVersion.
std::string quantizer_fingerprint(WeightFormat format) {
  constexpr int64_t rows = 4, cols = 128;
  std::vector<float> w(size_t(rows * cols));
  for (int64_t i = 0; i < cols; ++i) {
    w[size_t(i)] = float(int(i * 37 % 101) - 50) / 8.f;
    w[size_t(cols + i)] = float(int(i * 53 % 97) - 40) / 64.f;
    w[size_t(3 * cols + i)] = float(int(i * 11 % 13) - 6) * 1e-40f;
  }
  w[size_t(cols + 70)] = 1000.f;
  WeightStore probe(std::vector<std::string>{}, format);
  const TensorView v = probe.adopt_matrix(std::move(w), {rows, cols}, "quantizer probe");
  Sha256 h;
  if (v.dtype == DType::kI8) {
    h.update(v.qdata, size_t(rows * cols));
    h.update(v.scales, size_t(rows) * sizeof(float));
  } else {
    const size_t groups = size_t(rows * (cols / v.group));
    h.update(v.qdata, size_t(rows * cols / 2));
    h.update(v.scales, groups * sizeof(float));
    h.update(v.zeros, groups);
  }
  return h.hex_digest().substr(0, 16);
}

}  // namespace

void WeightStore::use_cache(const std::string& dir, const std::string& config_text) {
  if (!quantized()) return;
  std::vector<std::string> paths;
  for (const auto& f : files_) paths.push_back(f->path());
  for (const auto& b : bins_) paths.push_back(b->path());
  cache_ = std::make_unique<WeightCache>(dir, paths, config_text, format_name(format_), quantizer_fingerprint(format_));
}

void WeightStore::save_cache() {
  if (cache_) cache_->save();
}

TensorView WeightStore::cached(const std::string& cache_name, const Shape& shape) const {
  if (!cache_) return {};
  const int64_t group = format_ == WeightFormat::kInt4G64 ? 64 : format_ == WeightFormat::kInt4 ? 32 : 0;
  return cache_->find(cache_name, shape, format_ == WeightFormat::kInt8 ? DType::kI8 : DType::kI4, group);
}

TensorView WeightStore::cached_adopted(const std::string& name, const Shape& file_shape) {
  if (!cache_ || !quantized() || !index_.count(name) || file_shape.size() != 2) return {};
  TensorView c = cached("adopt:" + name, {file_shape[1], file_shape[0]});
  if (!c.empty()) lookup(name, file_shape);  // checks the file's shape, marks it used
  return c;
}

void WeightStore::release_file_pages(const std::string& name) {
  const TensorInfo& info = *index_.at(name);
  info.mapping->release(info.ptr, info.nbytes);
}

void WeightStore::release_converted(const float* data) {
  for (auto& v : converted_)
    if (!v.empty() && v.data() == data) {
      std::vector<float>().swap(v);  // the slot stays: other copies' addresses do not move
      return;
    }
}

// Symmetric per-row int8: scale = max|w| / 127, q = round(w / scale). Weights must be finite:
// converting NaN or infinity to int8 is undefined behaviour, and transformers has no int8 path
// to mirror, so a checkpoint holding one is refused naming the tensor (`what`).
TensorView WeightStore::quantize_int8(const float* values, const Shape& shape, const std::string& what) {
  const int64_t rows = shape[0], cols = shape[1];
  check_allocation(double(rows) * double(cols) + double(rows) * sizeof(float), "int8 quantization of " + what, "");
  quantized_.emplace_back(size_t(rows * cols));
  converted_.emplace_back(size_t(rows));
  int8_t* q = quantized_.back().data();
  float* scales = converted_.back().data();
  std::atomic<int64_t> first_bad{rows};  // first row holding a non-finite value
  ThreadPool::global().parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* v = values + r * cols;
      float amax = 0.f;
      bool finite = true;
      for (int64_t c = 0; c < cols; ++c) {
        const float a = std::abs(v[c]);
        finite &= a <= std::numeric_limits<float>::max();  // false for inf and NaN
        amax = std::max(amax, a);
      }
      if (!finite) {
        int64_t seen = first_bad.load();
        while (r < seen && !first_bad.compare_exchange_weak(seen, r)) {}
        continue;
      }
      const float scale = amax > 0.f ? amax / 127.f : 1.f;
      scales[r] = scale;
      if (scale < std::numeric_limits<float>::min()) {
        // Subnormal row (max |w| below 127 · FLT_MIN): 1 / scale would overflow to infinity;
        // the same rounding in double.
        for (int64_t c = 0; c < cols; ++c) q[r * cols + c] = int8_t(std::nearbyint(double(v[c]) * 127.0 / double(amax)));
        continue;
      }
      const float inv = 1.f / scale;
      // Round half to even, as nearbyint does in the default rounding mode: adding and
      // subtracting 1.5·2^23 leaves the nearest integer for |x| ≤ 2^22 (here |x| ≤ 127), in a
      // loop the compiler vectorises instead of a libm call per weight.
      for (int64_t c = 0; c < cols; ++c) q[r * cols + c] = int8_t(int((v[c] * inv + 12582912.f) - 12582912.f));
    }
  });
  if (const int64_t r = first_bad.load(); r < rows) {
    quantized_.pop_back();
    converted_.pop_back();
    const float* v = values + r * cols;
    int64_t c = 0;
    while (c < cols && std::abs(v[c]) <= std::numeric_limits<float>::max()) ++c;
    throw Error(ErrorKind::kInvalidInput, what + " holds a non-finite value (" + std::to_string(v[c]) + " at [" +
                                              std::to_string(r) + ", " + std::to_string(c) +
                                              "]); int8 quantization (--dtype int8) needs finite weights");
  }
  TensorView v;
  v.shape = shape;
  v.dtype = DType::kI8;
  v.qdata = q;
  v.scales = scales;
  return v;
}

TensorView WeightStore::quantize(const float* values, const Shape& shape, const std::string& what) {
  return format_ == WeightFormat::kInt8 ? quantize_int8(values, shape, what) : quantize_int4(values, shape, what);
}

// Group-wise int4 (core/int4.h): asymmetric, an integer zero point per group (the better logit
// error of the two at the same kernel cost: docs/PERFORMANCE.md). Weights must be finite, as for
// int8; in_features must be a multiple of the group size (every Hugging Face hidden size is a
// multiple of 32); anything else is refused naming the tensor.
TensorView WeightStore::quantize_int4(const float* values, const Shape& shape, const std::string& what) {
  const int64_t group = format_ == WeightFormat::kInt4G64 ? 64 : 32;
  const int64_t rows = shape[0], cols = shape[1];
  const char* flag = group == 64 ? "--dtype int4-g64" : "--dtype int4";
  if (cols % group != 0)
    throw Error(ErrorKind::kUnsupported, what + " has shape " + shape_str(shape) + ": int4 quantization (" + flag +
                                             ") needs in_features (" + std::to_string(cols) +
                                             ") to be a multiple of " + std::to_string(group));
  const int64_t groups = cols / group;
  check_allocation(double(rows) * double(cols) / 2 + double(rows) * double(groups) * 5, "int4 quantization of " + what, "");
  packed_.emplace_back(size_t(rows * cols / 2));
  uint8_t* q = packed_.back().data();
  packed_.emplace_back(size_t(rows * groups));
  uint8_t* zeros = packed_.back().data();
  converted_.emplace_back(size_t(rows * groups));
  float* scales = converted_.back().data();
  std::atomic<int64_t> first_bad{rows};  // first row holding a non-finite value
  ThreadPool::global().parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* v = values + r * cols;
      bool finite = true;
      for (int64_t c = 0; c < cols; ++c) finite &= std::abs(v[c]) <= std::numeric_limits<float>::max();
      if (!finite) {
        int64_t seen = first_bad.load();
        while (r < seen && !first_bad.compare_exchange_weak(seen, r)) {}
        continue;
      }
      quantize_int4_row(v, cols, group, /*symmetric=*/false, q + r * (cols / 2), scales + r * groups, zeros + r * groups);
    }
  });
  if (const int64_t r = first_bad.load(); r < rows) {
    packed_.pop_back();
    packed_.pop_back();
    converted_.pop_back();
    const float* v = values + r * cols;
    int64_t c = 0;
    while (c < cols && std::abs(v[c]) <= std::numeric_limits<float>::max()) ++c;
    throw Error(ErrorKind::kInvalidInput, what + " holds a non-finite value (" + std::to_string(v[c]) + " at [" +
                                              std::to_string(r) + ", " + std::to_string(c) + "]); int4 quantization (" +
                                              flag + ") needs finite weights");
  }
  TensorView v;
  v.shape = shape;
  v.dtype = DType::kI4;
  v.qdata = q;
  v.scales = scales;
  v.zeros = zeros;
  v.group = group;
  return v;
}

TensorView WeightStore::optional(const std::string& name, const Shape& expected) {
  if (!has(name)) return {};
  const TensorInfo& info = lookup(name, expected);
  TensorView v;
  v.shape = info.shape;
  const size_t n = numel(info.shape);
  if (info.dtype == "F32" && reinterpret_cast<uintptr_t>(info.ptr) % alignof(float) == 0) {
    v.data = reinterpret_cast<const float*>(info.ptr);
    return v;
  }
  DType dt;
  if (info.dtype == "F32") dt = DType::kF32;
  else if (info.dtype == "BF16") dt = DType::kBF16;
  else if (info.dtype == "F16") dt = DType::kF16;
  else
    throw Error(ErrorKind::kUnsupported, *info.file + ": tensor \"" + name + "\" has dtype " + info.dtype +
                                             "; weights must be F32, BF16 or F16");
  converted_.emplace_back(n);
  convert_to_f32(dt, info.ptr, converted_.back().data(), n);
  v.data = converted_.back().data();
  return v;
}

TensorView WeightStore::require(const std::string& name, const Shape& expected) {
  if (!has(name)) {
    std::string where = describe_files();
    throw Error(ErrorKind::kNotFound, where + ": missing tensor \"" + name + "\"" +
                                          (expected.empty() ? "" : " (expected shape " + shape_str(expected) + ")"));
  }
  return optional(name, expected);
}

bool WeightStore::same_bytes(const std::string& a, const std::string& b) const {
  if (!index_.count(a) || !index_.count(b)) return false;
  const TensorInfo &x = *index_.at(a), &y = *index_.at(b);
  return x.dtype == y.dtype && x.shape == y.shape && x.nbytes == y.nbytes && std::memcmp(x.ptr, y.ptr, x.nbytes) == 0;
}

void WeightStore::alias_base_model_prefix(const std::string& prefix) {
  if (prefix.empty()) return;
  const std::string p = prefix + ".";
  std::vector<std::pair<std::string, std::string>> add;
  for (auto& [name, info] : index_) {
    if (alias_of_.count(name)) continue;
    const std::string other = name.compare(0, p.size(), p) == 0 ? name.substr(p.size()) : p + name;
    if (!other.empty() && !index_.count(other)) add.emplace_back(other, name);
  }
  for (auto& [alias, name] : add) {
    index_[alias] = index_.at(name);
    alias_of_[alias] = name;
  }
}

void WeightStore::ignore_unused(const std::vector<std::string>& patterns) {
  ignored_.insert(ignored_.end(), patterns.begin(), patterns.end());
}

std::vector<std::string> WeightStore::unused() const {
  std::vector<std::regex> ignored;
  for (const auto& p : ignored_) ignored.emplace_back(p);
  std::vector<std::string> out;
  for (auto& [name, info] : index_) {
    if (alias_of_.count(name) || used_.count(name)) continue;
    const std::string& key = name;  // clang 14 cannot capture a structured binding
    if (std::any_of(ignored.begin(), ignored.end(), [&](const std::regex& r) { return std::regex_search(key, r); }))
      continue;
    out.push_back(name);
  }
  return out;
}

std::set<std::string> WeightStore::dtypes() const {
  std::set<std::string> out;
  for (auto& [name, info] : index_)
    if (!alias_of_.count(name)) out.insert(info->dtype);
  return out;
}

int64_t WeightStore::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, info] : index_)
    if (!alias_of_.count(name)) n += numel(info->shape);
  return n;
}

}  // namespace autolm
