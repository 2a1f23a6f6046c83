// Hugging Face-shaped entry points: AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM.
// The class is chosen from config.json's model_type (fallback: architectures), never from the
// task; asking the wrong Auto class is refused with an Error naming the right one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autolm/error.h"
#include "autolm/model.h"

namespace autolm {

// How from_pretrained holds the weights (HF's torch_dtype, for a CPU engine).
struct LoadOptions {
  // "auto": float32 checkpoints stay float32, bfloat16/float16 ones are used in place
  // (2 bytes per weight, float32 arithmetic); "float32": upcast everything at load;
  // "int8": weight-only int8 with per-row scales, quantized at load; "int4" / "int4-g64":
  // group-wise 4-bit (32 / 64 weights per group, scale and zero point), quantized at load.
  std::string dtype = "auto";
};

struct AutoConfig {
  // Reads dir/config.json and resolves its registry entry (family, model_type).
  static ModelConfig from_pretrained(const std::string& dir);
};

struct AutoModelForCausalLM {
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir, const LoadOptions& options = {});
};

struct AutoModelForSeq2SeqLM {
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir, const LoadOptions& options = {});
};

// Loads whichever class the folder's config names.
std::shared_ptr<const Model> load_model(const std::string& dir, const LoadOptions& options = {});

// Every model_type the registry knows, with its family.
std::vector<std::pair<std::string, ModelFamily>> supported_model_types();

}  // namespace autolm
