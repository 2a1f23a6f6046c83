#include "io/quantized.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>

#include "core/check.h"
#include "core/memory.h"
#include "io/awq.h"
#include "io/compressed_tensors.h"
#include "io/gptq.h"
#include "io/safetensors.h"

namespace autolm {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Error unsupported(const JsonConfig& q, const std::string& what) {
  return Error(ErrorKind::kUnsupported, q.source() + ": " + what);
}

// bits 4 and a group size the int4 kernels run (32 or a multiple of 64).
void read_bits_and_group(const JsonConfig& q, const char* method, QuantConfig& c) {
  const int64_t bits = q.get<int64_t>("bits");
  if (bits != 4)
    throw unsupported(q, "bits = " + std::to_string(bits) + " is not supported (" + method + ": 4)");
  c.group_size = q.get<int64_t>("group_size");
  if (c.group_size != 32 && (c.group_size <= 0 || c.group_size % 64 != 0))
    throw unsupported(q, "group_size = " + std::to_string(c.group_size) + " is not supported (32 or a multiple of 64)");
}

QuantConfig parse_gptq(const JsonConfig& q) {
  QuantConfig c;
  c.method = QuantMethod::kGptq;
  read_bits_and_group(q, "gptq", c);
  // transformers' GPTQConfig: `format`, overridden by the legacy `checkpoint_format`.
  const char* key = q.has("checkpoint_format") ? "checkpoint_format" : "format";
  const std::string format = lower(q.get_or<std::string>(key, "gptq"));
  if (format == "gptq") c.zero_offset = 1;
  else if (format == "gptq_v2") c.zero_offset = 0;
  else throw unsupported(q, std::string(key) + " \"" + format + "\" is not supported (gptq, gptq_v2)");
  q.get_or<bool>("desc_act", false);  // either value loads: g_idx says where each column's group is
  return c;
}

QuantConfig parse_awq(const JsonConfig& q) {
  QuantConfig c;
  c.method = QuantMethod::kAwq;
  read_bits_and_group(q, "awq", c);
  // transformers' AwqConfig: `format`, overridden by the legacy `version`; lower-cased.
  const char* key = q.has("version") ? "version" : "format";
  const std::string version = lower(q.get_or<std::string>(key, "gemm"));
  if (version != "gemm")
    throw unsupported(q, std::string(key) + " \"" + version + "\" is not supported (awq: gemm)");
  if (!q.get_or<bool>("zero_point", true))
    throw unsupported(q, "zero_point = false is not supported (awq: zero_point true)");
  if (q.has("modules_to_not_convert")) {
    const json& m = q.raw().at("modules_to_not_convert");
    if (!m.is_array()) throw Error(ErrorKind::kInvalidInput, q.source() + ": key \"modules_to_not_convert\" must be a list of strings (" + m.dump() + ")");
    for (const json& name : m) {
      if (!name.is_string())
        throw Error(ErrorKind::kInvalidInput, q.source() + ": key \"modules_to_not_convert\" must be a list of strings (" + m.dump() + ")");
      const std::string pattern = name.get<std::string>();
      try {
        std::regex check(pattern);
      } catch (const std::regex_error&) {
        throw Error(ErrorKind::kInvalidInput, q.source() + ": modules_to_not_convert entry \"" + pattern + "\" is not a valid regular expression");
      }
      c.modules_to_not_convert.push_back(pattern);
    }
  }
  return c;
}

// compressed-tensors: weight-only 4-bit ints in groups, packed ("pack-quantized"). Every config
// group must have the same weight scheme (one QuantConfig for the whole checkpoint); which layers
// are quantized is read from the files (a "<layer>.weight_packed" tensor), as the `targets` /
// `ignore` lists decided when the checkpoint was written.
QuantConfig parse_compressed_tensors(const JsonConfig& q) {
  QuantConfig c;
  c.method = QuantMethod::kCompressedTensors;
  const std::string format = q.get_or<std::string>("format", "");
  if (format != "pack-quantized")
    throw unsupported(q, "quant_method \"compressed-tensors\" with format \"" + format +
                             "\" is not supported (compressed-tensors: pack-quantized)");
  const std::string status = q.get_or<std::string>("quantization_status", "compressed");
  if (status != "compressed")
    throw unsupported(q, "quantization_status \"" + status + "\" is not supported (compressed-tensors: compressed)");
  if (q.has("kv_cache_scheme")) throw unsupported(q, "kv_cache_scheme is not supported (compressed-tensors: weights only)");
  const JsonConfig sparsity = q.sub("sparsity_config");
  if (sparsity.has("format") && sparsity.get<std::string>("format") != "dense")
    throw unsupported(sparsity, "format \"" + sparsity.get<std::string>("format") + "\" is not supported (dense)");
  const JsonConfig groups = q.sub("config_groups");
  if (!groups.raw().is_object() || groups.raw().empty())
    throw Error(ErrorKind::kInvalidInput, q.source() + ": key \"config_groups\" must be a non-empty object");
  bool first = true;
  for (auto& [name, value] : groups.raw().items()) {
    const JsonConfig g = groups.sub(name);
    if (g.has("format") && g.get<std::string>("format") != "pack-quantized")
      throw unsupported(g, "format \"" + g.get<std::string>("format") + "\" is not supported (pack-quantized)");
    for (const char* key : {"input_activations", "output_activations"})
      if (g.has(key)) throw unsupported(g, std::string(key) + " is not supported (compressed-tensors: weight-only quantization)");
    const JsonConfig w = g.sub("weights");
    const int64_t bits = w.get<int64_t>("num_bits");
    if (bits != 4) throw unsupported(w, "num_bits = " + std::to_string(bits) + " is not supported (compressed-tensors: 4)");
    const std::string type = w.get_or<std::string>("type", "int");
    if (type != "int") throw unsupported(w, "type \"" + type + "\" is not supported (int)");
    const std::string strategy = w.get<std::string>("strategy");
    if (strategy != "group") throw unsupported(w, "strategy \"" + strategy + "\" is not supported (compressed-tensors: group)");
    if (w.get_or<bool>("dynamic", false)) throw unsupported(w, "dynamic = true is not supported");
    const int64_t group = w.get<int64_t>("group_size");
    if (group != 32 && (group <= 0 || group % 64 != 0))
      throw unsupported(w, "group_size = " + std::to_string(group) + " is not supported (32 or a multiple of 64)");
    const bool symmetric = w.get_or<bool>("symmetric", true);
    if (!first && (group != c.group_size || symmetric != c.symmetric))
      throw unsupported(g, "a weight scheme other than the first config group's is not supported (group_size " +
                               std::to_string(c.group_size) + ", symmetric " + (c.symmetric ? "true" : "false") + ")");
    c.group_size = group;
    c.symmetric = symmetric;
    first = false;
  }
  return c;
}

}  // namespace

std::optional<QuantConfig> parse_quantization_config(const JsonConfig& config) {
  if (!config.has("quantization_config")) return std::nullopt;
  const JsonConfig q = config.sub("quantization_config");
  const std::string method = q.get<std::string>("quant_method");
  if (method == "gptq") return parse_gptq(q);
  if (method == "awq") return parse_awq(q);
  if (method == "compressed-tensors") return parse_compressed_tensors(q);
  throw unsupported(q, "quant_method \"" + method + "\" is not supported (pre-quantized checkpoints: gptq, awq, compressed-tensors)");
}

const char* quant_method_name(QuantMethod method) {
  return method == QuantMethod::kAwq ? "AWQ" : method == QuantMethod::kGptq ? "GPTQ" : "compressed-tensors";
}

const char* quantized_marker(QuantMethod method) {
  return method == QuantMethod::kCompressedTensors ? ".weight_packed" : ".qweight";
}

// transformers' should_convert_module: a pattern matches from the start up to a module boundary
// ("layers.1" matches "layers.1.mlp", not "layers.11.mlp"), as a regular expression with the
// same boundary, or as a suffix of the name.
bool keeps_unquantized(const QuantConfig& config, const std::string& layer) {
  for (const std::string& key : config.modules_to_not_convert) {
    if (layer.size() >= key.size() && layer.compare(layer.size() - key.size(), key.size(), key) == 0) return true;
    const std::regex pattern("(?:" + key + ")");
    // re.match with the boundary: some prefix of the name that the pattern matches whole ends
    // at the name's end, before a '.', or just after one.
    for (size_t end = 0; end <= layer.size(); ++end) {
      const bool boundary = end == layer.size() || layer[end] == '.' || (end > 0 && layer[end - 1] == '.');
      if (boundary && std::regex_match(layer.begin(), layer.begin() + std::ptrdiff_t(end), pattern)) return true;
    }
  }
  return false;
}

std::vector<int32_t> int4_columns_by_group(const void* g_idx, int64_t K, int64_t G, const std::string& g_idx_name,
                                           std::vector<int32_t>& in_perm) {
  const int64_t groups = K / G;
  std::vector<int32_t> group_of(static_cast<size_t>(K));
  bool in_order = true;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t g = g_idx ? int32_t(load_u32(g_idx, k)) : int32_t(k / G);
    if (g < 0 || g >= groups)
      throw Error(ErrorKind::kInvalidInput, g_idx_name + "[" + std::to_string(k) + "] = " + std::to_string(g) +
                                                " is outside [0, " + std::to_string(groups) + ") (in_features " +
                                                std::to_string(K) + " / group_size " + std::to_string(G) + ")");
    group_of[size_t(k)] = g;
    in_order = in_order && g == k / G;
  }
  in_perm.clear();
  std::vector<int32_t> position(static_cast<size_t>(K));
  if (in_order) {
    for (int64_t k = 0; k < K; ++k) position[size_t(k)] = int32_t(k);
    return position;
  }
  std::vector<int64_t> count(static_cast<size_t>(groups), 0);
  for (int32_t g : group_of) ++count[size_t(g)];
  for (int64_t g = 0; g < groups; ++g)
    if (count[size_t(g)] != G)
      throw Error(ErrorKind::kInvalidInput, g_idx_name + " puts " + std::to_string(count[size_t(g)]) +
                                                " input features in group " + std::to_string(g) + ", expected group_size " +
                                                std::to_string(G));
  in_perm.resize(size_t(K));
  for (int64_t k = 0; k < K; ++k) in_perm[size_t(k)] = int32_t(k);
  std::stable_sort(in_perm.begin(), in_perm.end(),
                   [&](int32_t a, int32_t b) { return group_of[size_t(a)] < group_of[size_t(b)]; });
  for (int64_t j = 0; j < K; ++j) position[size_t(in_perm[size_t(j)])] = int32_t(j);
  return position;
}

TensorView Int4Matrix::view() const {
  TensorView v;
  v.shape = {out, in};
  v.dtype = DType::kI4;
  v.qdata = q.data();
  v.scales = scales.data();
  v.zeros = zeros.data();
  v.group = group;
  v.in_perm = in_perm.empty() ? nullptr : in_perm.data();
  return v;
}

Int4Matrix load_quantized_layer(const QuantConfig& config, const std::string& layer, const Shape& expected,
                                const TensorLookup& lookup) {
  const std::string method = quant_method_name(config.method);
  const int64_t G = config.group_size;
  const std::string marker = quantized_marker(config.method);
  const TensorInfo* qw = lookup(layer + marker);
  AUTOLM_CHECK(qw != nullptr, "load_quantized_layer without " + marker);
  auto tensor = [&](const std::string& suffix, const std::vector<std::string>& dtypes, const Shape& shape) -> const TensorInfo& {
    const std::string name = layer + suffix;
    const TensorInfo* info = lookup(name);
    if (!info)
      throw Error(ErrorKind::kNotFound, *qw->file + ": " + method + " layer \"" + layer + "\" has no tensor \"" + name + "\"");
    if (std::find(dtypes.begin(), dtypes.end(), info->dtype) == dtypes.end() || info->shape != shape) {
      std::string want;
      for (const auto& d : dtypes) want += (want.empty() ? "" : " or ") + d;
      throw Error(ErrorKind::kInvalidInput, *info->file + ": " + method + " tensor \"" + name + "\" is " + info->dtype +
                                                " " + shape_str(info->shape) + ", expected " + want + " " +
                                                shape_str(shape) + " (group_size " + std::to_string(G) + ")");
    }
    return *info;
  };
  const std::string qname = *qw->file + ": " + method + " tensor \"" + layer + marker + "\"";
  if (qw->shape.size() != 2 || qw->dtype != "I32")
    throw Error(ErrorKind::kInvalidInput, qname + " is " + qw->dtype + " " + shape_str(qw->shape) + ", expected a 2-D I32 tensor");
  // gptq: (in / 8, out); awq: (in, out / 8); compressed-tensors: (out, in / 8).
  int64_t K = qw->shape[0] * 8, N = qw->shape[1];
  if (config.method == QuantMethod::kAwq) K = qw->shape[0], N = qw->shape[1] * 8;
  if (config.method == QuantMethod::kCompressedTensors) K = qw->shape[1] * 8, N = qw->shape[0];
  if (K == 0 || N == 0 || K % G != 0 || N % 8 != 0)
    throw Error(ErrorKind::kInvalidInput, qname + " has shape " + shape_str(qw->shape) + ": in_features " +
                                              std::to_string(K) + " must be a positive multiple of group_size " +
                                              std::to_string(G) + " and out_features " + std::to_string(N) + " of 8");
  if (config.method == QuantMethod::kCompressedTensors) {  // weight_shape: the unpacked (out, in)
    const TensorInfo& shape = tensor(".weight_shape", {"I64", "I32"}, {2});
    int64_t dims[2];
    for (int i = 0; i < 2; ++i)
      dims[i] = shape.dtype == "I64" ? [&] { int64_t v; std::memcpy(&v, shape.ptr + 8 * i, 8); return v; }()
                                     : int64_t(int32_t(load_u32(shape.ptr, i)));
    if (dims[0] != N || dims[1] != K)
      throw Error(ErrorKind::kInvalidInput, *shape.file + ": " + method + " tensor \"" + layer + ".weight_shape\" is [" +
                                                std::to_string(dims[0]) + ", " + std::to_string(dims[1]) + "], but " + layer +
                                                marker + " " + shape_str(qw->shape) + " holds [" + std::to_string(N) + ", " +
                                                std::to_string(K) + "]");
  }
  if (!expected.empty() && expected != Shape{N, K})
    throw Error(ErrorKind::kInvalidInput, *qw->file + ": " + method + " layer \"" + layer + "\" is " + shape_str({N, K}) +
                                              " (out, in), expected " + shape_str(expected));
  check_allocation(double(N) * double(K) / 2 + double(N) * double(K / G) * 5 + double(K) * 12,
                   method + " layer " + layer, "");
  Int4Matrix m;
  m.out = N;
  m.in = K;
  m.group = G;
  if (config.method == QuantMethod::kCompressedTensors) {
    CompressedTensors t;
    t.packed = qw->ptr;
    const TensorInfo& scale = tensor(".weight_scale", {"F16", "BF16", "F32"}, {N, K / G});
    t.scale = scale.ptr;
    t.scale_dtype = scale.dtype == "F32" ? DType::kF32 : scale.dtype == "BF16" ? DType::kBF16 : DType::kF16;
    if (config.symmetric) {
      if (lookup(layer + ".weight_zero_point"))
        throw Error(ErrorKind::kInvalidInput, *qw->file + ": " + method + " layer \"" + layer +
                                                  "\" has a weight_zero_point but the config's weights are symmetric");
      t.zero_point = nullptr;
    } else {
      t.zero_point = tensor(".weight_zero_point", {"I32"}, {(N + 7) / 8, K / G}).ptr;
    }
    const TensorInfo* g_idx = lookup(layer + ".weight_g_idx");
    t.g_idx = g_idx ? tensor(".weight_g_idx", {"I32"}, {K}).ptr : nullptr;
    t.in_features = K;
    t.out_features = N;
    repack_compressed_tensors(t, (g_idx ? *g_idx->file : *qw->file) + ": " + method + " tensor \"" + layer + ".weight_g_idx\"", m);
  } else if (config.method == QuantMethod::kAwq) {
    AwqTensors t;
    t.qweight = qw->ptr;
    t.qzeros = tensor(".qzeros", {"I32"}, {K / G, N / 8}).ptr;
    t.scales = tensor(".scales", {"F16"}, {K / G, N}).ptr;
    t.in_features = K;
    t.out_features = N;
    repack_awq(t, m);
  } else {
    GptqTensors t;
    t.qweight = qw->ptr;
    t.qzeros = tensor(".qzeros", {"I32"}, {K / G, N / 8}).ptr;
    t.scales = tensor(".scales", {"F16"}, {K / G, N}).ptr;
    const TensorInfo* g_idx = lookup(layer + ".g_idx");
    t.g_idx = g_idx ? tensor(".g_idx", {"I32"}, {K}).ptr : nullptr;
    t.in_features = K;
    t.out_features = N;
    repack_gptq(t, config.zero_offset, (g_idx ? *g_idx->file : *qw->file) + ": GPTQ tensor \"" + layer + ".g_idx\"", m);
  }
  return m;
}

}  // namespace autolm
