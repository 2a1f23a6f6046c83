// compressed-tensors checkpoints (quant_method "compressed-tensors", format "pack-quantized",
// 4-bit ints in groups): tests/data/make_compressed_tensors_fixture.py writes tiny llamas in that
// packing (asymmetric with actorder "group" and bfloat16 scales; symmetric with float16 scales)
// and transformers' logits for the same weights dequantized; autolm repacks them into int4 at
// load and must match them. Unsupported schemes and hostile tensors are refused naming the key,
// tensor and value.
#include "prequantized_fixture.h"

namespace autolm {
namespace {

const std::string kAsym = kQuantData + "compressed_tensors/llama-ct-asym-actorder";
const std::string kSym = kQuantData + "compressed_tensors/llama-ct-sym";
const std::string kLayer = "model.layers.0.mlp.down_proj";  // (64, 128): weight_packed [64, 16], groups of 32

TEST(CompressedTensors, AsymmetricActOrderLogitsAndGreedyMatchTransformers) { expect_matches_reference(kAsym); }

TEST(CompressedTensors, SymmetricLogitsAndGreedyMatchTransformers) { expect_matches_reference(kSym); }

// config_groups.group_0.weights edited.
std::string with_weights(const std::string& name, const nlohmann::json& edit) {
  auto config = load_json_file(kAsym + "/config.json")["quantization_config"];
  for (auto& [k, v] : edit.items()) config["config_groups"]["group_0"]["weights"][k] = v;
  return with_quantization_config(kAsym, name, {{"config_groups", config["config_groups"]}});
}

TEST(CompressedTensors, UnsupportedConfigsAreRefusedNamingThem) {
  const std::pair<std::string, std::string> cases[] = {
      {with_quantization_config(kAsym, "ct-0", {{"format", "float-quantized"}}),
       "quant_method \"compressed-tensors\" with format \"float-quantized\" is not supported"},
      {with_quantization_config(kAsym, "ct-1", {{"format", "marlin-24"}}), "format \"marlin-24\""},
      {with_quantization_config(kAsym, "ct-2", {{"quantization_status", "frozen"}}), "quantization_status \"frozen\""},
      {with_quantization_config(kAsym, "ct-3", {{"config_groups", nlohmann::json::object()}}),
       "key \"config_groups\" must be a non-empty object"},
      {with_quantization_config(kAsym, "ct-4", {{"kv_cache_scheme", {{"num_bits", 8}}}}), "kv_cache_scheme is not supported"},
      {with_quantization_config(kAsym, "ct-5", {{"sparsity_config", {{"format", "sparse-24-bitmask"}}}}),
       "format \"sparse-24-bitmask\" is not supported (dense)"},
      {with_weights("ct-6", {{"num_bits", 8}}), "num_bits = 8 is not supported (compressed-tensors: 4)"},
      {with_weights("ct-7", {{"type", "float"}}), "type \"float\" is not supported"},
      {with_weights("ct-8", {{"strategy", "channel"}}), "strategy \"channel\" is not supported"},
      {with_weights("ct-9", {{"group_size", 40}}), "group_size = 40 is not supported"},
      {with_weights("ct-10", {{"group_size", 128}}), "in_features 64 must be a positive multiple of group_size 128"},
      {with_weights("ct-11", {{"dynamic", true}}), "dynamic = true is not supported"},
      {with_weights("ct-12", {{"symmetric", true}}), "has a weight_zero_point but the config's weights are symmetric"},
      {with_weights("ct-13", {{"group_size", 64}}),
       "compressed-tensors tensor \"model.layers.0.self_attn.q_proj.weight_scale\" is BF16 [64, 2], expected F16 or BF16 or F32 [64, 1]"},
  };
  for (const auto& [dir, message] : cases) expect_refused(dir, message, dir);
  auto config = load_json_file(kAsym + "/config.json")["quantization_config"];
  config["config_groups"]["group_0"]["input_activations"] = {{"num_bits", 8}, {"type", "int"}};
  expect_refused(with_quantization_config(kAsym, "ct-14", {{"config_groups", config["config_groups"]}}),
                 "input_activations is not supported (compressed-tensors: weight-only quantization)", "input_activations");
  config = load_json_file(kAsym + "/config.json")["quantization_config"];
  config["config_groups"]["group_1"] = config["config_groups"]["group_0"];
  config["config_groups"]["group_1"]["weights"]["symmetric"] = true;
  expect_refused(with_quantization_config(kAsym, "ct-15", {{"config_groups", config["config_groups"]}}),
                 "a weight scheme other than the first config group's is not supported", "two schemes");
}

TEST(CompressedTensors, HostileTensorsAreRefusedNamingTheTensorAndValue) {
  const std::string file = "model.safetensors: compressed-tensors tensor \"" + kLayer;
  std::vector<int32_t> unbalanced(128, 1);
  const std::pair<TensorEdit, std::string> cases[] = {
      {{kLayer + ".weight_packed", "U32", {64, 16}, std::string(64 * 16 * 4, '\0')}, file + ".weight_packed\" is U32 [64, 16], expected a 2-D I32 tensor"},
      {{kLayer + ".weight_packed", "I32", {64, 10}, std::string(64 * 10 * 4, '\0')}, "in_features 80 must be a positive multiple of group_size 32"},
      {{kLayer + ".weight_packed", "I32", {64, 12}, std::string(64 * 12 * 4, '\0')}, file + ".weight_shape\" is [64, 128], but " + kLayer + ".weight_packed [64, 12] holds [64, 96]"},
      {{kLayer + ".weight_shape", "I64", {2}, std::string("\x40\0\0\0\0\0\0\0\x81\0\0\0\0\0\0\0", 16)}, file + ".weight_shape\" is [64, 129], but " + kLayer + ".weight_packed [64, 16] holds [64, 128]"},
      {{kLayer + ".weight_shape", "F32", {2}, std::string(8, '\0')}, file + ".weight_shape\" is F32 [2], expected I64 or I32 [2]"},
      {{kLayer + ".weight_scale", "I32", {64, 4}, std::string(64 * 4 * 4, '\0')}, file + ".weight_scale\" is I32 [64, 4], expected F16 or BF16 or F32 [64, 4]"},
      {{kLayer + ".weight_zero_point", "I32", {64, 4}, std::string(64 * 4 * 4, '\0')}, file + ".weight_zero_point\" is I32 [64, 4], expected I32 [8, 4]"},
      {{kLayer + ".weight_zero_point"}, "compressed-tensors layer \"" + kLayer + "\" has no tensor \"" + kLayer + ".weight_zero_point\""},
      {{kLayer + ".weight_g_idx", "I32", {128}, int32_bytes(unbalanced)}, file + ".weight_g_idx\" puts 0 input features in group 0, expected group_size 32"},
      {{kLayer + ".weight_g_idx", "I32", {128}, int32_bytes(std::vector<int32_t>(128, 4))}, file + ".weight_g_idx\"[0] = 4 is outside [0, 4)"},
  };
  int i = 0;
  for (const auto& [edit, message] : cases)
    expect_refused(with_tensor(kAsym, "ct-hostile-" + std::to_string(i++), edit), message, edit.tensor);
}

}  // namespace
}  // namespace autolm
