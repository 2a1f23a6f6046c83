// The model contract shared by both families: an immutable Model (safe to share between
// threads) and a per-request DecodeState holding caches and scratch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "autolm/export.h"
#include "autolm/json.h"

namespace autolm {

enum class ModelFamily { kCausal, kSeq2Seq };
AUTOLM_API const char* family_name(ModelFamily f);     // "causal" | "seq2seq"
AUTOLM_API const char* auto_class_name(ModelFamily f);  // "AutoModelForCausalLM" | "AutoModelForSeq2SeqLM"

// What generation and the tools need to know of any model, read from config.json.
struct AUTOLM_API ModelConfig {
  std::string dir;         // the HF folder
  std::string model_type;  // config.json "model_type"
  ModelFamily family = ModelFamily::kCausal;
  int64_t vocab_size = 0;
  // Longest sequence the model accepts: learned or sinusoidal position tables (GPT-2
  // n_positions, BART/Marian max_position_embeddings); RoPE models: max_position_embeddings
  // (stretched by the rope scaling factor); T5: the documented default limit; either replaced
  // by AUTOLM_MAX_POSITIONS (io/limits.h).
  int64_t max_positions = 0;
  std::optional<int64_t> bos_token_id, pad_token_id, decoder_start_token_id;
  std::vector<int64_t> eos_token_id;  // int or list in config.json
  Json raw;                 // the whole config.json (keys sorted: autolm/json.h)

  // config.json's integer `key` (e.g. "max_position_embeddings"); nullopt when it is absent or
  // not an integer.
  std::optional<int64_t> int_value(std::string_view key) const;
};

// Per-request mutable state: KV caches, cross-attention K/V, positions, masks, scratch.
class AUTOLM_API DecodeState {
 public:
  virtual ~DecodeState() = default;
  // Decoder rows (inputs × beams).
  virtual int batch_size() const = 0;
  // Tokens appended so far per row (the cache length, padding included).
  virtual int length() const = 0;
  // Beam search: new row i becomes old row src[i] (self-attention caches and masks).
  // Rows only move within one input's group, so cross-attention K/V stay shared, not copied.
  virtual void reorder(std::span<const int> src) = 0;
  // Assisted generation: drops the self-attention cache entries of every row from position
  // `length` on (rejected draft tokens), as transformers' cache.crop(); the next decode() appends
  // at `length`. Cross-attention K/V (seq2seq) stay as they are. Error unless
  // 0 <= length <= length().
  virtual void truncate(int length) = 0;
};

// Scratch of Model::decode_batch, reused from call to call by one caller (not shared between
// threads): after the first call nothing is allocated per step.
struct AUTOLM_API BatchScratch {
  std::unique_ptr<DecodeState> view;  // the model's own batch state (decoder-only: a ragged KV view)
  std::vector<float> logits;          // the default implementation's [rows, vocab]
};

class AUTOLM_API Model {
 public:
  virtual ~Model() = default;
  // What config.json said (ModelConfig), and the family it belongs to.
  const ModelConfig& config() const { return config_; }
  ModelFamily family() const { return config_.family; }

  // State for `batch_size` decoder rows, each able to hold `max_length` decoder tokens.
  // Seq2seq: rows r*rows_per_input … (r+1)*rows_per_input-1 share encoder input r.
  virtual std::unique_ptr<DecodeState> new_state(int batch_size, int max_length,
                                                 int rows_per_input = 1) const = 0;

  // Seq2seq only: runs the encoder once over input_ids [num_inputs, src_len] with
  // attention_mask [num_inputs, src_len] (1 = token, 0 = padding; empty = all ones) and
  // stores every decoder layer's cross-attention K/V in the state.
  virtual void encode(std::span<const int32_t> input_ids, std::span<const int32_t> attention_mask,
                      int src_len, DecodeState& state) const;

  // Appends seq_len tokens to every row and computes logits.
  // ids: [batch, seq_len]; attention_mask: [batch, seq_len] for the new tokens (empty = all
  // ones; 0 marks left padding of causal prompts). Returns logits [batch, seq_len, vocab] when
  // all_positions, else [batch, vocab] for each row's last new token. The returned span points
  // into the state's scratch and stays valid until the next call.
  virtual std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> attention_mask,
                                        int seq_len, DecodeState& state, bool all_positions) const = 0;

  // One decode step of several independent states at once (continuous batching): every row of
  // states[i] (each state its own requests, lengths and capacity) appends one token; ids and
  // attention_mask (empty = all ones) are [rows, 1] with the states' rows in order. Returns
  // [rows, vocab] logits of that token, valid until the next call with `scratch`. Each state ends
  // as decode(ids_i, mask_i, 1, *states[i], false) leaves it; the logits equal that call's up to
  // the float rounding of matrix products over more rows (docs/SERVER.md "Continuous batching").
  // The default runs decode() per state; decoder-only models run one forward pass over all rows
  // (and on an Error leave every state as it was).
  virtual std::span<const float> decode_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                              std::span<const int32_t> attention_mask, BatchScratch& scratch) const;

  // Bytes one decoder token of one row adds to the self-attention KV cache (K and V, all layers);
  // seq2seq cross-attention K/V take about as much per encoder token and input. generate() uses
  // it to refuse, before anything is allocated, a request that cannot fit in memory. 0 = unknown.
  virtual int64_t kv_bytes_per_token() const { return 0; }

  // Parameter count and storage dtypes, for `autolm info`.
  virtual int64_t parameter_count() const = 0;
  virtual std::vector<std::string> weight_dtypes() const = 0;
  // Tensors present in the checkpoint that the architecture never read (HF warns about these).
  virtual std::vector<std::string> unused_tensors() const = 0;

 protected:
  ModelConfig config_;
};

}  // namespace autolm
