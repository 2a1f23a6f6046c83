// The whole public API of libautolm in one include (find_package(autolm) → autolm::autolm, or
// pkg-config autolm). Each header below documents its part; docs/API.md is the overview.
#pragma once

#include "autolm/auto.h"               // AutoConfig, AutoModelForCausalLM / Seq2SeqLM, LoadOptions
#include "autolm/chat.h"               // chat templates as transformers applies them
#include "autolm/dtype.h"              // Dtype (LoadOptions::dtype)
#include "autolm/error.h"              // Error, ErrorKind
#include "autolm/export.h"             // AUTOLM_API
#include "autolm/generation.h"         // GenerationConfig, generate()
#include "autolm/jinja.h"              // the Jinja engine behind chat templates
#include "autolm/json.h"               // autolm::Json / OrderedJson (nlohmann)
#include "autolm/model.h"              // Model, DecodeState, ModelConfig
#include "autolm/structured_output.h"  // JSON-schema constrained decoding
#include "autolm/tokenizer.h"          // Tokenizer, AutoTokenizer, StreamDecoder
#include "autolm/version.h"            // AUTOLM_VERSION_*, autolm::version()
