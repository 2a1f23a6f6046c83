// AWQ checkpoints (quant_method "awq", version "gemm", bits 4, zero_point true):
// tests/data/make_awq_fixture.py writes tiny llamas in AWQ's GEMM packing (nibble order
// 0, 2, 4, 6, 1, 3, 5, 7; groups of 32, and of 128 as on the Hub; modules_to_not_convert keeping
// one MLP in float16) and transformers' logits for the same weights dequantized; autolm repacks
// them into int4 at load and must match them. Unsupported configs and hostile tensors are refused
// naming the key, tensor and value.
#include "prequantized_fixture.h"

namespace autolm {
namespace {

const std::string kDir = kQuantData + "awq/llama-awq-tiny";
const std::string kLayer = "model.layers.0.mlp.down_proj";  // (64, 128): qweight [128, 8], groups of 32

TEST(Awq, LogitsAndGreedyMatchTransformersOnTheDequantizedWeights) { expect_matches_reference(kDir); }

TEST(Awq, Group128LogitsAndGreedyMatchTransformers) { expect_matches_reference(kQuantData + "awq/llama-awq-g128"); }

TEST(Awq, ModulesToNotConvertAreLoadedUnquantized) {
  // Without the entry, layer 1's MLP (float16 .weight only) is expected quantized: no qweight,
  // so its plain weight loads as any float16 matrix; with an entry naming a quantized layer,
  // that layer's float weight is required and missing.
  expect_refused(with_quantization_config(kDir, "awq-not-convert", {{"modules_to_not_convert", {"model.layers.0.mlp"}}}),
                 "missing tensor \"model.layers.0.mlp.gate_proj.weight\"", "modules_to_not_convert model.layers.0.mlp");
  // transformers' matching rules: prefix to a module boundary, regex, suffix.
  QuantConfig c;
  c.modules_to_not_convert = {"model.layers.1", "gate", ".*\\.2\\.mlp"};
  EXPECT_TRUE(keeps_unquantized(c, "model.layers.1.mlp.up_proj"));
  EXPECT_FALSE(keeps_unquantized(c, "model.layers.11.mlp.up_proj"));
  EXPECT_TRUE(keeps_unquantized(c, "model.layers.0.block_sparse_moe.gate"));
  EXPECT_FALSE(keeps_unquantized(c, "model.layers.0.mlp.gate_proj"));
  EXPECT_TRUE(keeps_unquantized(c, "model.layers.2.mlp.down_proj"));
  EXPECT_FALSE(keeps_unquantized(c, "model.layers.3.mlp.down_proj"));
}

TEST(Awq, UnsupportedConfigsAreRefusedNamingThem) {
  const std::pair<nlohmann::json, std::string> cases[] = {
      {{{"version", "gemv"}}, "version \"gemv\" is not supported (awq: gemm)"},
      {{{"version", "GEMV_FAST"}}, "version \"gemv_fast\" is not supported"},
      {{{"version", "marlin"}}, "version \"marlin\""},
      {{{"version", "exllama"}}, "version \"exllama\""},
      {{{"version", nullptr}, {"format", "llm-awq"}}, "format \"llm-awq\" is not supported"},
      {{{"zero_point", false}}, "zero_point = false is not supported"},
      {{{"bits", 8}}, "bits = 8 is not supported (awq: 4)"},
      {{{"group_size", 96}}, "group_size = 96"},
      {{{"group_size", 128}}, "in_features 64 must be a positive multiple of group_size 128"},
      {{{"group_size", 64}}, "AWQ tensor \"model.layers.0.self_attn.q_proj.qzeros\" is I32 [2, 8], expected I32 [1, 8] (group_size 64)"},
      {{{"modules_to_not_convert", "lm_head"}}, "key \"modules_to_not_convert\" must be a list of strings"},
      {{{"modules_to_not_convert", {"model.layers.(0"}}}, "modules_to_not_convert entry \"model.layers.(0\" is not a valid regular expression"},
  };
  int i = 0;
  for (const auto& [edit, message] : cases)
    expect_refused(with_quantization_config(kDir, "awq-" + std::to_string(i++), edit), message, edit.dump());
}

TEST(Awq, HostileTensorsAreRefusedNamingTheTensorAndValue) {
  const std::string file = "model.safetensors: AWQ tensor \"" + kLayer;
  const std::pair<TensorEdit, std::string> cases[] = {
      {{kLayer + ".qweight", "I64", {128, 4}, std::string(128 * 4 * 8, '\0')}, file + ".qweight\" is I64 [128, 4], expected a 2-D I32 tensor"},
      {{kLayer + ".qweight", "I32", {64, 16}, std::string(64 * 16 * 4, '\0')}, "\"" + kLayer + "\" is [128, 64] (out, in), expected [64, 128]"},
      {{kLayer + ".qweight", "I32", {80, 8}, std::string(80 * 8 * 4, '\0')}, "in_features 80 must be a positive multiple of group_size 32"},
      {{kLayer + ".qweight", "I32", {0, 8}, ""}, "in_features 0 must be a positive multiple"},
      {{kLayer + ".scales", "F32", {4, 64}, std::string(4 * 64 * 4, '\0')}, file + ".scales\" is F32 [4, 64], expected F16 [4, 64]"},
      {{kLayer + ".scales", "F16", {4, 32}, std::string(4 * 32 * 2, '\0')}, file + ".scales\" is F16 [4, 32], expected F16 [4, 64]"},
      {{kLayer + ".qzeros", "I32", {4, 64}, std::string(4 * 64 * 4, '\0')}, file + ".qzeros\" is I32 [4, 64], expected I32 [4, 8]"},
      {{kLayer + ".scales"}, "AWQ layer \"" + kLayer + "\" has no tensor \"" + kLayer + ".scales\""},
  };
  int i = 0;
  for (const auto& [edit, message] : cases)
    expect_refused(with_tensor(kDir, "awq-hostile-" + std::to_string(i++), edit), message, edit.tensor);
}

}  // namespace
}  // namespace autolm
