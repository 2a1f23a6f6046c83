#include "io/gptq.h"

#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/int4.h"

namespace autolm {

void repack_gptq(const GptqTensors& t, int zero_offset, const std::string& g_idx_name, Int4Matrix& m) {
  const int64_t K = t.in_features, N = t.out_features, G = m.group, groups = K / G;
  // group_of[k]: the group of input feature k; sorted by group (stable), the columns give the
  // packed order: packed column j holds input feature perm[j], group j / G.
  std::vector<int32_t> group_of(size_t(K), 0);
  bool in_order = true;
  for (int64_t k = 0; k < K; ++k) {
    const int32_t g = t.g_idx ? int32_t(load_u32(t.g_idx, k)) : int32_t(k / G);
    if (g < 0 || g >= groups)
      throw Error(ErrorKind::kInvalidInput, g_idx_name + "[" + std::to_string(k) + "] = " + std::to_string(g) +
                                                " is outside [0, " + std::to_string(groups) + ") (in_features " +
                                                std::to_string(K) + " / group_size " + std::to_string(G) + ")");
    group_of[size_t(k)] = g;
    in_order = in_order && g == k / G;
  }
  std::vector<int32_t> perm;
  if (!in_order) {
    std::vector<int64_t> count(size_t(groups), 0);
    for (int32_t g : group_of) ++count[size_t(g)];
    for (int64_t g = 0; g < groups; ++g)
      if (count[size_t(g)] != G)
        throw Error(ErrorKind::kInvalidInput, g_idx_name + " puts " + std::to_string(count[size_t(g)]) +
                                                  " input features in group " + std::to_string(g) + ", expected group_size " +
                                                  std::to_string(G));
    perm.resize(size_t(K));
    for (int64_t k = 0; k < K; ++k) perm[size_t(k)] = int32_t(k);
    std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return group_of[size_t(a)] < group_of[size_t(b)]; });
  }
  // position[k]: the packed column of input feature k.
  std::vector<int32_t> position(static_cast<size_t>(K));
  for (int64_t j = 0; j < K; ++j) position[size_t(perm.empty() ? j : perm[size_t(j)])] = int32_t(j);

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
  m.in_perm = std::move(perm);
}

}  // namespace autolm
