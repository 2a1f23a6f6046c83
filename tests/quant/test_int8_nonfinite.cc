// int8 quantization of hostile weights: NaN or infinity (converting them to int8 is undefined
// behaviour) is refused naming the tensor; tiny (subnormal) rows quantize without overflow.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "autolm/auto.h"
#include "models/scratch_folder.h"

namespace autolm {
namespace {

using test::expect_error;
using test::ScratchFolder;

// Overwrites elements (index, value) of F32 tensor `name` in the folder's model.safetensors.
void poke(const ScratchFolder& f, const std::string& name, const std::vector<std::pair<int64_t, float>>& values) {
  std::string bytes = f.read("model.safetensors");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, n));
  ASSERT_EQ(header.at(name).at("dtype"), "F32");
  const uint64_t begin = header.at(name).at("data_offsets")[0];
  for (const auto& [index, value] : values)
    std::memcpy(bytes.data() + 8 + n + begin + index * sizeof(float), &value, sizeof(float));
  f.write("model.safetensors", bytes);
}
void poke(const ScratchFolder& f, const std::string& name, int64_t index, float value) { poke(f, name, {{index, value}}); }

const LoadOptions kInt8{.dtype = Dtype::kInt8};

TEST(Int8NonFinite, NaNAndInfinityAreRefusedNamingTheTensor) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (float bad : {nan, inf, -inf}) {
    ScratchFolder f("llama-tiny");
    poke(f, "model.layers.1.mlp.down_proj.weight", 128 * 3 + 5, bad);  // row 3, column 5
    expect_error(f.path(), ErrorKind::kInvalidInput,
                 {"model.safetensors", "model.layers.1.mlp.down_proj.weight", "non-finite", "[3, 5]", "--dtype int8"},
                 kInt8);
    // transformers has no int8 path; in float32 the value is used as is (NaN logits, as there).
    EXPECT_NO_THROW(load_model(f.path()));
  }
}

TEST(Int8NonFinite, EmbeddingAndTransposedConv1DAreCheckedToo) {
  {
    ScratchFolder f("llama-tiny");
    poke(f, "model.embed_tokens.weight", 64 * 1000, std::numeric_limits<float>::quiet_NaN());
    expect_error(f.path(), ErrorKind::kInvalidInput, {"model.embed_tokens.weight", "[1000, 0]"}, kInt8);
  }
  {
    // GPT-2 Conv1D weights are transposed at load, then quantized: (in, out) [2, 7] → [7, 2].
    ScratchFolder f("gpt2-tiny");
    poke(f, "transformer.h.0.mlp.c_fc.weight", 256 * 2 + 7, std::numeric_limits<float>::infinity());
    expect_error(f.path(), ErrorKind::kInvalidInput, {"transformer.h.0.mlp.c_fc.weight", "[7, 2]", "non-finite"}, kInt8);
  }
}

TEST(Int8NonFinite, SubnormalRowsQuantizeWithoutOverflow) {
  // max |w| = 1e-44: max / 127 underflows to 0 and 1 / scale to infinity; the row must still
  // quantize to ±127 at its largest weight, not to undefined int8 conversions.
  ScratchFolder f("llama-tiny");
  std::vector<std::pair<int64_t, float>> row;
  for (int64_t c = 0; c < 128; ++c) row.emplace_back(c, c % 2 ? 1e-44f : -1e-45f);
  poke(f, "model.layers.0.mlp.down_proj.weight", row);
  auto model = load_model(f.path(), kInt8);
  auto state = model->new_state(1, 3);
  std::vector<int32_t> ids = {1, 5, 9};
  auto logits = model->decode(ids, {}, 3, *state, false);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace autolm
