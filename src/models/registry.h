// The Auto registry: one line per supported config.json model_type, with its family and the
// factory that builds it. Adding a family touches its own file and one line in registry.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autolm/model.h"
#include "io/json_file.h"

namespace autolm {

class WeightStore;

using ModelFactory = std::unique_ptr<Model> (*)(ModelConfig config, const JsonConfig& json,
                                                std::unique_ptr<WeightStore> weights);

struct RegistryEntry {
  const char* model_type;
  ModelFamily family;
  ModelFactory factory;  // nullptr: recognised, not implemented yet
  std::vector<const char*> architectures;  // fallback when config.json lacks model_type
};

const std::vector<RegistryEntry>& registry();
// Resolves config.json's model_type (fallback: architectures); throws an Error listing every
// supported type when nothing matches.
const RegistryEntry& find_registry_entry(const JsonConfig& config);

// Architecture factories (one per architecture file).
std::unique_ptr<Model> make_llama(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_mistral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_qwen2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_qwen3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_phi3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_smollm3(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_gemma(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_gpt2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_granite(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_olmo(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_olmo2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_stablelm(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_cohere(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_t5(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_switch_transformers(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_t5gemma(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_longt5(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_bart_family(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_blenderbot(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_fsmt(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_blenderbot_small(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_mixtral(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_qwen2_moe(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_qwen3_moe(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_phi(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_gpt_neox(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_falcon(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_starcoder2(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_gpt_bigcode(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);
std::unique_ptr<Model> make_opt(ModelConfig config, const JsonConfig& json, std::unique_ptr<WeightStore> weights);

}  // namespace autolm
