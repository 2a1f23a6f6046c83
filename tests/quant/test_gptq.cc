// GPTQ checkpoints (quant_method "gptq", bits 4): tests/data/make_gptq_fixture.py writes tiny
// llamas in GPTQ's packing (desc_act false, and act-order with a shuffled g_idx) and
// transformers' logits for the same weights dequantized; autolm repacks the nibbles into int4 at
// load and must match them. Unsupported quantization configs and hostile tensors are refused
// naming the key, tensor and value.
#include "prequantized_fixture.h"

#include "core/int4.h"
#include "ops/linear.h"

namespace autolm {
namespace {

const std::string kDir = kQuantData + "gptq/llama-gptq-tiny";
const std::string kActOrder = kQuantData + "gptq/llama-gptq-actorder-tiny";
const std::string kLayer = "model.layers.0.self_attn.q_proj";  // (64, 64): qweight [8, 64], groups of 32

TEST(Gptq, LogitsAndGreedyMatchTransformersOnTheDequantizedWeights) { expect_matches_reference(kDir); }

// desc_act true: g_idx is a permutation of the groups; the columns are sorted by group at load
// and linear() gathers the activations in that order.
TEST(Gptq, ActOrderLogitsAndGreedyMatchTransformers) { expect_matches_reference(kActOrder); }

// int4_pack_row (the loaders' packing) writes what int4_set_nibble does, nibble by nibble, for
// rows ending in a 64-weight chunk and in the 32-weight one.
TEST(Gptq, Int4PackRowMatchesSetNibble) {
  for (int64_t K : {32, 64, 96, 128, 160}) {
    std::vector<uint8_t> nibbles(static_cast<size_t>(K)), packed(static_cast<size_t>(K / 2)), want(static_cast<size_t>(K / 2), 0);
    for (int64_t k = 0; k < K; ++k) nibbles[size_t(k)] = uint8_t((k * 7 + 3) % 16);
    for (int64_t k = 0; k < K; ++k) int4_set_nibble(want.data(), k, K, nibbles[size_t(k)]);
    int4_pack_row(nibbles.data(), K, packed.data());
    EXPECT_EQ(packed, want) << "K " << K;
  }
}

// linear() on an int4 matrix with in_perm equals x · Wᵀ with W's rows in input-feature order
// (copy_row), for one row (the rows kernels, on gathered activations) and 24 rows (sgemm on
// dequantized rows, except on VNNI CPUs).
TEST(Gptq, PermutedInt4LinearMatchesItsInputOrderWeights) {
  const int64_t N = 16, K = 128, G = 32;
  std::vector<float> w(size_t(N * K));
  for (size_t i = 0; i < w.size(); ++i) w[i] = float((i * 7919) % 31) / 31.f - 0.5f;
  std::vector<uint8_t> q(size_t(N * K / 2)), zeros(size_t(N * K / G));
  std::vector<float> scales(size_t(N * K / G));
  for (int64_t n = 0; n < N; ++n)
    quantize_int4_row(w.data() + n * K, K, G, false, q.data() + n * K / 2, scales.data() + n * K / G, zeros.data() + n * K / G);
  std::vector<int32_t> perm(static_cast<size_t>(K));
  for (int64_t j = 0; j < K; ++j) perm[size_t(j)] = int32_t((j * 37) % K);  // 37 is prime to 128
  Int4Matrix matrix{q, scales, zeros, perm, N, K, G};  // the view a loader hands out
  const TensorView W = matrix.view();
  std::vector<float> logical(size_t(N * K));
  for (int64_t n = 0; n < N; ++n) copy_row(W, n, logical.data() + n * K);
  for (int64_t k = 0; k < K; ++k)  // copy_row undoes the permutation
    EXPECT_EQ(logical[size_t(perm[size_t(k)])], scales[size_t(k / G)] * float(int4_nibble(q.data(), k, K) - int(zeros[size_t(k / G)])));
  for (int64_t rows : {1, 24}) {
    std::vector<float> x(size_t(rows * K)), y(size_t(rows * N));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 104729) % 17) / 17.f - 0.5f;
    linear(x.data(), rows, W, {}, y.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < N; ++n) {
        double want = 0;
        for (int64_t k = 0; k < K; ++k) want += double(x[size_t(r * K + k)]) * logical[size_t(n * K + k)];
        EXPECT_NEAR(y[size_t(r * N + n)], want, cpu::best_kernel().exact ? 1e-4 : 5e-2) << rows << " rows, [" << r << ", " << n << "]";
      }
  }
}

TEST(Gptq, UnsupportedConfigsAreRefusedNamingThem) {
  const std::pair<nlohmann::json, std::string> cases[] = {
      {{{"quant_method", "bitsandbytes"}}, "quant_method \"bitsandbytes\" is not supported"},
      {{{"quant_method", "compressed-tensors"}, {"format", "pack-quantized"}},
       "key \"config_groups\" must be a non-empty object"},  // test_compressed_tensors.cc: the format itself
      {{{"quant_method", "bitnet"}}, "quant_method \"bitnet\" is not supported (pre-quantized checkpoints: gptq, awq, compressed-tensors)"},
      {{{"bits", 8}}, "bits = 8"},
      {{{"bits", 3}}, "bits = 3"},
      {{{"group_size", 48}}, "group_size = 48"},
      {{{"group_size", -1}}, "group_size = -1"},
      {{{"checkpoint_format", "marlin"}}, "checkpoint_format \"marlin\""},
      {{{"format", "bitblas"}, {"checkpoint_format", nullptr}}, "format \"bitblas\" is not supported (gptq, gptq_v2)"},
      // The file's qzeros / scales are for groups of 32.
      {{{"group_size", 64}}, "GPTQ tensor \"model.layers.0.self_attn.q_proj.qzeros\" is I32 [2, 8], expected I32 [1, 8] (group_size 64)"},
      // in_features 64 is not a multiple of 128.
      {{{"group_size", 128}}, "in_features 64 must be a positive multiple of group_size 128"},
  };
  int i = 0;
  for (const auto& [edit, message] : cases)
    expect_refused(with_quantization_config(kDir, "gptq-" + std::to_string(i++), edit), message, edit.dump());
}

TEST(Gptq, HostileTensorsAreRefusedNamingTheTensorAndValue) {
  std::vector<int32_t> shuffled(64);  // groups of 32: the odd features in group 1
  for (int k = 0; k < 64; ++k) shuffled[size_t(k)] = k % 2;
  std::vector<int32_t> out_of_range = shuffled, negative = shuffled, unbalanced(64, 0);
  out_of_range[5] = 2;
  negative[7] = -1;
  const std::string file = "model.safetensors: GPTQ tensor \"" + kLayer;
  const std::pair<TensorEdit, std::string> cases[] = {
      {{kLayer + ".g_idx", "I32", {64}, int32_bytes(out_of_range)}, file + ".g_idx\"[5] = 2 is outside [0, 2)"},
      {{kLayer + ".g_idx", "I32", {64}, int32_bytes(negative)}, file + ".g_idx\"[7] = -1 is outside [0, 2)"},
      {{kLayer + ".g_idx", "I32", {64}, int32_bytes(unbalanced)}, file + ".g_idx\" puts 64 input features in group 0, expected group_size 32"},
      {{kLayer + ".g_idx", "I32", {32}, int32_bytes(std::vector<int32_t>(32, 0))}, file + ".g_idx\" is I32 [32], expected I32 [64]"},
      {{kLayer + ".g_idx", "I64", {32}, int32_bytes(shuffled)}, file + ".g_idx\" is I64 [32], expected I32 [64]"},
      {{kLayer + ".qweight", "F32", {8, 64}, std::string(8 * 64 * 4, '\0')}, file + ".qweight\" is F32 [8, 64], expected a 2-D I32 tensor"},
      {{kLayer + ".qweight", "I32", {8, 60}, std::string(8 * 60 * 4, '\0')}, "out_features 60 of 8"},
      {{kLayer + ".qweight", "I32", {6, 64}, std::string(6 * 64 * 4, '\0')}, "in_features 48 must be a positive multiple of group_size 32"},
      {{kLayer + ".qweight", "I32", {512}, std::string(512 * 4, '\0')}, file + ".qweight\" is I32 [512], expected a 2-D I32 tensor"},
      {{kLayer + ".qweight", "I32", {16, 64}, std::string(16 * 64 * 4, '\0')}, "\"" + kLayer + "\" is [64, 128] (out, in), expected [64, 64]"},
      {{kLayer + ".scales", "BF16", {2, 64}, std::string(2 * 64 * 2, '\0')}, file + ".scales\" is BF16 [2, 64], expected F16 [2, 64]"},
      {{kLayer + ".qzeros", "I32", {1, 8}, std::string(8 * 4, '\0')}, file + ".qzeros\" is I32 [1, 8], expected I32 [2, 8]"},
      {{kLayer + ".qzeros"}, "GPTQ layer \"" + kLayer + "\" has no tensor \"" + kLayer + ".qzeros\""},
  };
  int i = 0;
  for (const auto& [edit, message] : cases)
    expect_refused(with_tensor(kDir, "gptq-hostile-" + std::to_string(i++), edit), message, edit.tensor);
  // The g_idx edit above (odd features in group 1) is a valid act-order permutation: it loads.
  EXPECT_NO_THROW(load_model(with_tensor(kDir, "gptq-shuffled", {kLayer + ".g_idx", "I32", {64}, int32_bytes(shuffled)})));
}

}  // namespace
}  // namespace autolm
