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

struct AutoConfig {
  // Reads dir/config.json and resolves its registry entry (family, model_type).
  static ModelConfig from_pretrained(const std::string& dir);
};

struct AutoModelForCausalLM {
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir);
};

struct AutoModelForSeq2SeqLM {
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir);
};

// Loads whichever class the folder's config names.
std::shared_ptr<const Model> load_model(const std::string& dir);

// Every model_type the registry knows, with its family.
std::vector<std::pair<std::string, ModelFamily>> supported_model_types();

}  // namespace autolm
