#include "io/awq.h"

#include <algorithm>

#include "core/dtype.h"
#include "core/int4.h"
#include "core/thread_pool.h"

namespace autolm {

void repack_awq(const AwqTensors& t, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G, words = N / 8;
  m.q.resize(size_t(N * K / 2));
  m.scales.resize(size_t(N * groups));
  m.zeros.resize(size_t(N * groups));
  // qweight[k, c] holds weight (8c + j, k) in nibble kAwqSlot[j]. Blocks of two words (16 output
  // rows) across the pool: the rows' nibbles unpacked into a buffer that stays in cache, then
  // packed.
  ThreadPool::global().parallel_for((words + 1) / 2, 1, [&](int64_t b0, int64_t b1) {
    std::vector<uint8_t> nibbles(size_t(16 * K));
    for (int64_t c0 = b0 * 2; c0 < std::min(words, b1 * 2); c0 += 2) {
      const int64_t c1 = std::min(words, c0 + 2);
      for (int64_t k = 0; k < K; ++k)
        for (int64_t c = c0; c < c1; ++c) {
          const uint32_t w = load_u32(t.qweight, k * words + c);
          for (int j = 0; j < 8; ++j) nibbles[size_t((8 * (c - c0) + j) * K + k)] = uint8_t((w >> (4 * kAwqSlot[j])) & 0xF);
        }
      for (int64_t n = 8 * c0; n < 8 * c1; ++n) int4_pack_row(nibbles.data() + (n - 8 * c0) * K, K, m.q.data() + n * (K / 2));
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t c = c0; c < c1; ++c) {
          const uint32_t zw = load_u32(t.qzeros, g * words + c);
          for (int j = 0; j < 8; ++j) {
            const int64_t n = 8 * c + j;
            m.zeros[size_t(n * groups + g)] = uint8_t((zw >> (4 * kAwqSlot[j])) & 0xF);
            m.scales[size_t(n * groups + g)] = f16_to_f32(load_u16(t.scales, g * N + n));
          }
        }
    }
  });
}

}  // namespace autolm
