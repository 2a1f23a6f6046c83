// Internal: the request after transformers' preparation steps (special tokens, padding, lengths),
// shared by the greedy/sampling loop (generate.cc) and beam search (beam_search.cc).
#pragma once

#include <optional>
#include <vector>

#include "autolm/generation.h"
#include "generate/logits_processors.h"
#include "generate/stopping.h"

namespace autolm::gen {

struct Request {
  GenerationConfig cfg;  // validated; eos/pad resolved (_prepare_special_tokens)
  bool seq2seq = false;
  int batch = 0;        // number of inputs
  int src_len = 0;      // padded input length (causal prompt or encoder input)
  int input_len = 0;    // HF input_ids_length: src_len (causal) or 1 (seq2seq decoder start)
  int max_length = 0;   // resolved total (same counting as input_len)
  int min_length = 0;   // resolved total
  std::optional<int64_t> pad;  // pad_token_id, or eos_token_id[0] when unset
  int32_t decoder_start = 0;
  std::vector<int32_t> input_ids;       // [batch, src_len]
  std::vector<int32_t> attention_mask;  // [batch, src_len]
  std::vector<int> left_pad;            // causal: padding columns per input (0 for seq2seq)
  std::vector<std::vector<int32_t>> unpadded;  // per input, the real tokens
  StopStringChecker stop;
  const GenerateHooks* hooks = nullptr;

  bool is_eos(int32_t t) const {
    for (int64_t e : cfg.eos_token_id)
      if (e == t) return true;
    return false;
  }
};

GenerateOutput beam_search(const Model& model, const Request& req);

// Assisted generation (assisted.cc): with prompt_lookup_num_tokens or an assistant model.
bool is_assisted(const GenerationConfig& cfg, const GenerateOptions& options);
GenerateOutput assisted_search(const Model& model, const Request& req, const GenerateOptions& options);

// Refuses (Error naming num_beams / num_return_sequences / max_new_tokens and the estimate) a
// request whose memory, estimated before anything is allocated, exceeds generate_memory_limit().
void check_memory(const Model& model, const Request& req);

// Builds [rows, len] model inputs for the first decode call and creates the state (runs the
// encoder for seq2seq). rows_per_input copies of each input, adjacent.
std::unique_ptr<DecodeState> start_state(const Model& model, const Request& req, int rows_per_input,
                                         std::vector<int32_t>& first_ids, std::vector<int32_t>& first_mask,
                                         int& first_len);

}  // namespace autolm::gen
