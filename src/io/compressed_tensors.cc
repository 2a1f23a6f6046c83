#include "io/compressed_tensors.h"

#include <cstring>

#include "core/dtype.h"
#include "core/int4.h"
#include "core/thread_pool.h"

namespace autolm {

void repack_compressed_tensors(const CompressedTensors& t, const std::string& g_idx_name, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G;
  const std::vector<int32_t> position = int4_columns_by_group(t.g_idx, K, G, g_idx_name, m.in_perm);
  m.q.resize(size_t(N * K / 2));
  m.scales.resize(size_t(N * groups));
  m.zeros.resize(size_t(N * groups));
  // Rows across the pool: each row's nibbles unpacked into packed-column order, then packed.
  ThreadPool::global().parallel_for(N, 16, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> nibbles(static_cast<size_t>(K));
    for (int64_t n = r0; n < r1; ++n) {
      for (int64_t c = 0; c < K / 8; ++c) {
        const uint32_t w = load_u32(t.packed, n * (K / 8) + c);
        for (int j = 0; j < 8; ++j) nibbles[size_t(position[size_t(8 * c + j)])] = uint8_t((w >> (4 * j)) & 0xF);
      }
      int4_pack_row(nibbles.data(), K, m.q.data() + n * (K / 2));
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t i = n * groups + g;
        float s;
        if (t.scale_dtype == DType::kF32) std::memcpy(&s, static_cast<const unsigned char*>(t.scale) + 4 * i, 4);
        else if (t.scale_dtype == DType::kBF16) s = bf16_to_f32(load_u16(t.scale, i));
        else s = f16_to_f32(load_u16(t.scale, i));
        m.scales[size_t(i)] = s;
        m.zeros[size_t(i)] = t.zero_point ? uint8_t((load_u32(t.zero_point, (n / 8) * groups + g) >> (4 * (n % 8))) & 0xF) : 8;
      }
    }
  });
}

}  // namespace autolm
