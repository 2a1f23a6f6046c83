#include "io/gptq.h"

#include <algorithm>

#include "core/dtype.h"
#include "core/int4.h"
#include "core/thread_pool.h"

namespace autolm {

void repack_gptq(const GptqTensors& t, int zero_offset, const std::string& g_idx_name, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G;
  const std::vector<int32_t> position = int4_columns_by_group(t.g_idx, K, G, g_idx_name, m.in_perm);
  m.q.resize(size_t(N * K / 2));
  m.scales.resize(size_t(N * groups));
  m.zeros.resize(size_t(N * groups));
  // qweight[k / 8, n] holds weight (n, k) in nibble k % 8. Blocks of 16 output rows across the
  // pool: each reads 64 contiguous bytes of qweight per r, unpacks the rows' nibbles into
  // packed-column order in a buffer that stays in cache, then packs them.
  ThreadPool::global().parallel_for((N + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
    std::vector<uint8_t> nibbles(size_t(16 * K));
    for (int64_t n0 = b0 * 16; n0 < std::min(N, b1 * 16); n0 += 16) {
      const int64_t n1 = std::min(N, n0 + 16);
      for (int64_t r = 0; r < K / 8; ++r)
        for (int64_t n = n0; n < n1; ++n) {
          const uint32_t w = load_u32(t.qweight, r * N + n);
          uint8_t* u = nibbles.data() + (n - n0) * K;
          for (int j = 0; j < 8; ++j) u[position[size_t(8 * r + j)]] = uint8_t((w >> (4 * j)) & 0xF);
        }
      for (int64_t n = n0; n < n1; ++n) int4_pack_row(nibbles.data() + (n - n0) * K, K, m.q.data() + n * (K / 2));
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t n = n0; n < n1; ++n) {
          m.scales[size_t(n * groups + g)] = f16_to_f32(load_u16(t.scales, g * N + n));
          const uint32_t zw = load_u32(t.qzeros, g * (N / 8) + n / 8);
          m.zeros[size_t(n * groups + g)] = uint8_t(((zw >> (4 * (n % 8))) & 0xF) + uint32_t(zero_offset));
        }
    }
  });
}

}  // namespace autolm
