// Hugging Face-shaped entry points: AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM.
// The class is chosen from config.json's model_type (fallback: architectures), never from the
// task; asking the wrong Auto class is refused with an Error naming the right one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autolm/dtype.h"
#include "autolm/error.h"
#include "autolm/export.h"
#include "autolm/model.h"

namespace autolm {

// How from_pretrained holds the weights (HF's torch_dtype, for a CPU engine).
struct LoadOptions {
  Dtype dtype = Dtype::kAuto;  // autolm/dtype.h: kAuto (checkpoint dtype in place), kFloat32, kInt8, kInt4, kInt4G64
  // int8 / int4: reuse the matrices an earlier load quantized (memory-mapped from
  // $AUTOLM_CACHE, else $XDG_CACHE_HOME/autolm, else ~/.cache/autolm) and write them there after
  // a load that quantized. false (CLI --no-cache), or AUTOLM_NO_CACHE=1, neither reads nor writes.
  bool weight_cache = true;
};

struct AUTOLM_API AutoConfig {
  // Reads dir/config.json and resolves its registry entry (family, model_type).
  static ModelConfig from_pretrained(const std::string& dir);
};

struct AUTOLM_API AutoModelForCausalLM {
  // Loads a decoder-only model folder (config.json + safetensors / PyTorch .bin weights); a seq2seq
  // folder is Error(kWrongClass) naming AutoModelForSeq2SeqLM.
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir, const LoadOptions& options = {});
};

struct AUTOLM_API AutoModelForSeq2SeqLM {
  // Loads an encoder-decoder model folder; a decoder-only folder is Error(kWrongClass).
  static std::shared_ptr<const Model> from_pretrained(const std::string& dir, const LoadOptions& options = {});
};

// Loads whichever class the folder's config names.
AUTOLM_API std::shared_ptr<const Model> load_model(const std::string& dir, const LoadOptions& options = {});

// Every model_type the registry knows, with its family.
AUTOLM_API std::vector<std::pair<std::string, ModelFamily>> supported_model_types();

}  // namespace autolm
