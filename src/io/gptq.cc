#include "io/gptq.h"

#include <cstring>

#include "core/int4.h"

namespace autolm {

std::optional<GptqConfig> parse_quantization_config(const JsonConfig& config) {
  if (!config.has("quantization_config")) return std::nullopt;
  const JsonConfig q = config.sub("quantization_config");
  const std::string method = q.get<std::string>("quant_method");
  if (method != "gptq")
    throw Error(ErrorKind::kUnsupported, q.source() + ": quant_method \"" + method +
                                             "\" is not supported (pre-quantized checkpoints: gptq)");
  GptqConfig g;
  const int64_t bits = q.get<int64_t>("bits");
  if (bits != 4)
    throw Error(ErrorKind::kUnsupported, q.source() + ": bits = " + std::to_string(bits) + " is not supported (gptq: 4)");
  if (q.get_or<bool>("desc_act", false))
    throw Error(ErrorKind::kUnsupported, q.source() + ": desc_act = true is not supported yet (gptq: desc_act false)");
  g.group_size = q.get<int64_t>("group_size");
  if (g.group_size != 32 && (g.group_size <= 0 || g.group_size % 64 != 0))
    throw Error(ErrorKind::kUnsupported, q.source() + ": group_size = " + std::to_string(g.group_size) +
                                             " is not supported (32 or a multiple of 64)");
  const std::string format = q.get_or<std::string>("checkpoint_format", "gptq");
  if (format == "gptq") g.zero_offset = 1;
  else if (format == "gptq_v2") g.zero_offset = 0;
  else
    throw Error(ErrorKind::kUnsupported, q.source() + ": checkpoint_format \"" + format + "\" is not supported (gptq, gptq_v2)");
  return g;
}

namespace {

// The file's bytes may be unaligned: read each word with memcpy.
inline uint32_t word(const void* base, int64_t i) {
  uint32_t w;
  std::memcpy(&w, static_cast<const unsigned char*>(base) + 4 * i, 4);
  return w;
}

inline uint16_t half(const void* base, int64_t i) {
  uint16_t h;
  std::memcpy(&h, static_cast<const unsigned char*>(base) + 2 * i, 2);
  return h;
}

}  // namespace

TensorView repack_gptq(const GptqTensors& t, const GptqConfig& cfg, uint8_t* q, float* scales, uint8_t* zeros,
                       const std::string& what) {
  const int64_t K = t.in_features, N = t.out_features, G = cfg.group_size, groups = K / G;
  if (t.g_idx)
    for (int64_t k = 0; k < K; ++k)
      if (int64_t(int32_t(word(t.g_idx, k))) != k / G)
        throw Error(ErrorKind::kUnsupported, what + ".g_idx[" + std::to_string(k) + "] = " +
                                                 std::to_string(int32_t(word(t.g_idx, k))) + ", expected " +
                                                 std::to_string(k / G) + " (only desc_act false orderings are supported)");
  std::memset(q, 0, size_t(N * K / 2));
  // qweight[k / 8, n] holds weight (n, k) in nibble k % 8.
  for (int64_t r = 0; r < K / 8; ++r)
    for (int64_t n = 0; n < N; ++n) {
      const uint32_t w = word(t.qweight, r * N + n);
      uint8_t* row = q + n * (K / 2);
      for (int j = 0; j < 8; ++j) int4_set_nibble(row, 8 * r + j, K, int((w >> (4 * j)) & 0xF));
    }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < N; ++n) {
      scales[n * groups + g] = f16_to_f32(half(t.scales, g * N + n));
      const uint32_t zw = word(t.qzeros, g * (N / 8) + n / 8);
      zeros[n * groups + g] = uint8_t(((zw >> (4 * (n % 8))) & 0xF) + uint32_t(cfg.zero_offset));
    }
  TensorView v;
  v.shape = {N, K};
  v.dtype = DType::kI4;
  v.qdata = q;
  v.scales = scales;
  v.zeros = zeros;
  v.group = G;
  return v;
}

}  // namespace autolm
