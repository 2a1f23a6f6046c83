#include "io/quantized.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "core/check.h"
#include "core/memory.h"
#include "io/awq.h"
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
  std::string format = lower(q.get_or<std::string>("format", "gptq"));
  if (q.has("checkpoint_format")) format = lower(q.get<std::string>("checkpoint_format"));
  if (format == "gptq") c.zero_offset = 1;
  else if (format == "gptq_v2") c.zero_offset = 0;
  else throw unsupported(q, "checkpoint_format \"" + format + "\" is not supported (gptq, gptq_v2)");
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

}  // namespace

std::optional<QuantConfig> parse_quantization_config(const JsonConfig& config) {
  if (!config.has("quantization_config")) return std::nullopt;
  const JsonConfig q = config.sub("quantization_config");
  const std::string method = q.get<std::string>("quant_method");
  if (method == "gptq") return parse_gptq(q);
  if (method == "awq") return parse_awq(q);
  std::string detail;
  if (method == "compressed-tensors" && q.has("format"))
    detail = " (format \"" + q.get_or<std::string>("format", "") + "\")";
  throw unsupported(q, "quant_method \"" + method + "\"" + detail + " is not supported (pre-quantized checkpoints: gptq, awq)");
}

const char* quant_method_name(QuantMethod method) { return method == QuantMethod::kAwq ? "AWQ" : "GPTQ"; }

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
  const TensorInfo* qw = lookup(layer + ".qweight");
  AUTOLM_CHECK(qw != nullptr, "load_quantized_layer without qweight");
  auto tensor = [&](const std::string& suffix, const char* dtype, const Shape& shape) -> const TensorInfo& {
    const std::string name = layer + suffix;
    const TensorInfo* info = lookup(name);
    if (!info)
      throw Error(ErrorKind::kNotFound, *qw->file + ": " + method + " layer \"" + layer + "\" has no tensor \"" + name + "\"");
    if (info->dtype != dtype || info->shape != shape)
      throw Error(ErrorKind::kInvalidInput, *info->file + ": " + method + " tensor \"" + name + "\" is " + info->dtype +
                                                " " + shape_str(info->shape) + ", expected " + dtype + " " +
                                                shape_str(shape) + " (group_size " + std::to_string(G) + ")");
    return *info;
  };
  const std::string qname = *qw->file + ": " + method + " tensor \"" + layer + ".qweight\"";
  if (qw->shape.size() != 2 || qw->dtype != "I32")
    throw Error(ErrorKind::kInvalidInput, qname + " is " + qw->dtype + " " + shape_str(qw->shape) + ", expected a 2-D I32 tensor");
  // gptq: (in / 8, out); awq: (in, out / 8).
  const bool awq = config.method == QuantMethod::kAwq;
  const int64_t K = awq ? qw->shape[0] : qw->shape[0] * 8, N = awq ? qw->shape[1] * 8 : qw->shape[1];
  if (K == 0 || N == 0 || K % G != 0 || N % 8 != 0)
    throw Error(ErrorKind::kInvalidInput, qname + " has shape " + shape_str(qw->shape) + ": in_features " +
                                              std::to_string(K) + " must be a positive multiple of group_size " +
                                              std::to_string(G) + " and out_features " + std::to_string(N) + " of 8");
  if (!expected.empty() && expected != Shape{N, K})
    throw Error(ErrorKind::kInvalidInput, *qw->file + ": " + method + " layer \"" + layer + "\" is " + shape_str({N, K}) +
                                              " (out, in), expected " + shape_str(expected));
  check_allocation(double(N) * double(K) / 2 + double(N) * double(K / G) * 5 + double(K) * 12,
                   method + " layer " + layer, "");
  Int4Matrix m;
  m.out = N;
  m.in = K;
  m.group = G;
  if (awq) {
    AwqTensors t;
    t.qweight = qw->ptr;
    t.qzeros = tensor(".qzeros", "I32", {K / G, N / 8}).ptr;
    t.scales = tensor(".scales", "F16", {K / G, N}).ptr;
    t.in_features = K;
    t.out_features = N;
    repack_awq(t, m);
  } else {
    GptqTensors t;
    t.qweight = qw->ptr;
    t.qzeros = tensor(".qzeros", "I32", {K / G, N / 8}).ptr;
    t.scales = tensor(".scales", "F16", {K / G, N}).ptr;
    const TensorInfo* g_idx = lookup(layer + ".g_idx");
    t.g_idx = g_idx ? tensor(".g_idx", "I32", {K}).ptr : nullptr;
    t.in_features = K;
    t.out_features = N;
    repack_gptq(t, config.zero_offset, (g_idx ? *g_idx->file : *qw->file) + ": GPTQ tensor \"" + layer + ".g_idx\"", m);
  }
  return m;
}

}  // namespace autolm
