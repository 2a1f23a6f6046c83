#include "io/awq.h"

#include "core/dtype.h"
#include "core/int4.h"

namespace autolm {

void repack_awq(const AwqTensors& t, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G, words = N / 8;
  m.q.assign(size_t(N * K / 2), 0);
  m.scales.resize(size_t(N * groups));
  m.zeros.resize(size_t(N * groups));
  // qweight[k, c] holds weight (8c + j, k) in nibble kAwqSlot[j].
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < words; ++c) {
      const uint32_t w = load_u32(t.qweight, k * words + c);
      for (int j = 0; j < 8; ++j)
        int4_set_nibble(m.q.data() + (8 * c + j) * (K / 2), k, K, int((w >> (4 * kAwqSlot[j])) & 0xF));
    }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t c = 0; c < words; ++c) {
      const uint32_t zw = load_u32(t.qzeros, g * words + c);
      for (int j = 0; j < 8; ++j) {
        const int64_t n = 8 * c + j;
        m.zeros[size_t(n * groups + g)] = uint8_t((zw >> (4 * kAwqSlot[j])) & 0xF);
        m.scales[size_t(n * groups + g)] = f16_to_f32(load_u16(t.scales, g * N + n));
      }
    }
}

}  // namespace autolm
