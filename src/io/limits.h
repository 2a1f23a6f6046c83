// Limits on untrusted input (model folders, CLI arguments, HTTP requests), in one place so
// that docs/SECURITY.md can list them and users can raise them. Every reader of a file or a
// request checks the relevant limit before it allocates.
#pragma once

#include <cstdint>
#include <string>

namespace autolm {

struct InputLimits {
  // JSON nesting (objects/arrays) in any file or request. AUTOLM_MAX_JSON_DEPTH.
  int json_max_depth = 128;
  // Small JSON files: config.json, generation_config.json, tokenizer_config.json, indexes,
  // special_tokens_map.json, chat message files. AUTOLM_MAX_CONFIG_BYTES.
  uint64_t config_max_bytes = uint64_t(64) << 20;
  // Tokenizer files (tokenizer.json, vocab.json, merges.txt, tokenizer.model) and chat
  // templates. AUTOLM_MAX_TOKENIZER_BYTES.
  uint64_t tokenizer_max_bytes = uint64_t(1) << 30;
  // The safetensors format's own rule: a header of at most 100 MB.
  uint64_t safetensors_header_max_bytes = 100'000'000;
  // Longest sequence (prompt + new tokens, or encoder input) of models whose positions are
  // computed rather than looked up in a table. 0 (default): RoPE models stop at config.json's
  // max_position_embeddings (times the rope scaling factor where the scaling extends the
  // context), T5 and RoPE configs without max_position_embeddings at
  // kDefaultComputedPositions. A value here replaces those limits (longer prompts than the
  // model was trained on, as transformers allows). Models with a position table (GPT-2,
  // BART, Marian, …) never go past it. AUTOLM_MAX_POSITIONS (at most 2^30).
  int64_t max_positions = 0;
};

// The positions limit of T5 (relative positions) when AUTOLM_MAX_POSITIONS is not set.
inline constexpr int64_t kDefaultComputedPositions = 16384;

// The limits in force: defaults, overridden once from the environment variables above.
const InputLimits& input_limits();
// Replaces them (tests, embedding applications).
void set_input_limits(const InputLimits& limits);

}  // namespace autolm
