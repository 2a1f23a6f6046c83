#include "io/gptq.h"

#include "core/dtype.h"
#include "core/int4.h"

namespace autolm {

void repack_gptq(const GptqTensors& t, int zero_offset, const std::string& g_idx_name, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G;
  const std::vector<int32_t> position = int4_columns_by_group(t.g_idx, K, G, g_idx_name, m.in_perm);
  m.q.assign(size_t(N * K / 2), 0);
  m.scales.resize(size_t(N * groups));
  m.zeros.resize(size_t(N * groups));
  // qweight[k / 8, n] holds weight (n, k) in nibble k % 8.
  for (int64_t r = 0; r < K / 8; ++r)
    for (int64_t n = 0; n < N; ++n) {
      const uint32_t w = load_u32(t.qweight, r * N + n);
      uint8_t* row = m.q.data() + n * (K / 2);
      for (int j = 0; j < 8; ++j) int4_set_nibble(row, position[size_t(8 * r + j)], K, int((w >> (4 * j)) & 0xF));
    }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t n = 0; n < N; ++n) {
      m.scales[size_t(n * groups + g)] = f16_to_f32(load_u16(t.scales, g * N + n));
      const uint32_t zw = load_u32(t.qzeros, g * (N / 8) + n / 8);
      m.zeros[size_t(n * groups + g)] = uint8_t(((zw >> (4 * (n % 8))) & 0xF) + uint32_t(zero_offset));
    }
}

}  // namespace autolm
