// Embedding block: token rows times a scale (Gemma: sqrt(hidden_size)), plus absolute
// positions: none (RoPE models), learned (GPT-2 wpe; OPT/BART with their offset of 2) or a
// sinusoidal table built at load.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/weight_source.h"

namespace autolm {

enum class PositionEmbedding {
  kNone,        // rotary or no positions: only tokens
  kLearned,     // a (max_positions + offset, hidden) table in the file
  kSinusoidal,  // a table computed at load (see sinusoidal_table)
};

enum class SinusoidalLayout {
  kMarian,   // MarianSinusoidalPositionalEmbedding: sin | cos halves, angle pos / 10000^(2⌊j/2⌋/dim)
  kFairseq,  // M2M100 / fairseq: sin | cos halves, angle pos · exp(-i · ln(10000) / (half - 1)),
             // row padding_idx zero
};

struct EmbeddingOptions {
  float scale = 1.f;                // multiplies token rows: Gemma sqrt(hidden_size), BART scale_embedding
  PositionEmbedding positions = PositionEmbedding::kNone;
  int64_t max_positions = 0;        // positions the table serves (n_positions, max_position_embeddings)
  int64_t position_offset = 0;      // table row = position + offset (OPT/BART learned: 2)
  SinusoidalLayout sinusoidal = SinusoidalLayout::kMarian;
  int64_t padding_idx = -1;         // kFairseq: the zero row
};

class Embedding {
 public:
  Embedding() = default;
  // Loads `tokens_name` (vocab_size, hidden_size) and, for kLearned, `positions_name`
  // (max_positions + position_offset, hidden_size).
  static Embedding load(WeightSource& w, const std::string& tokens_name, int64_t vocab_size, int64_t hidden_size,
                        const EmbeddingOptions& options, const std::string& positions_name = "");
  // The same over a token table already loaded (one matrix shared by two embeddings: BART's
  // model.shared under the encoder and the decoder, loaded once).
  static Embedding load(WeightSource& w, const TensorView& tokens, int64_t hidden_size, const EmbeddingOptions& options,
                        const std::string& positions_name = "");

  // out: (ids.size(), hidden_size) = tokens[id] * scale (+ positions[position + offset]; no
  // positions added when `positions` is empty). Ids are validated by the caller
  // (begin_causal_step); a position past the table is an Error.
  void forward(std::span<const int32_t> ids, std::span<const int64_t> positions, float* out) const;
  // row (hidden_size) += positions[position + offset] (BlenderbotSmall's decoder adds them after
  // layernorm_embedding).
  void add_position(int64_t position, float* row) const;

  const TensorView& tokens() const { return tokens_; }  // (vocab_size, hidden_size): tied LM heads
  int64_t max_positions() const { return options_.max_positions; }

 private:
  EmbeddingOptions options_;
  int64_t hidden_size_ = 0;
  TensorView tokens_;                 // (vocab_size, hidden_size)
  TensorView positions_;              // (max_positions + position_offset, hidden_size) or empty
  std::vector<float> sinusoidal_;     // the table positions_ views for kSinusoidal
};

// (rows, dim) sinusoidal position table as the HF class of `layout` builds it (angles in
// float64, rounded to float32 as their numpy / torch originals).
std::vector<float> sinusoidal_table(SinusoidalLayout layout, int64_t rows, int64_t dim, int64_t padding_idx = -1);

}  // namespace autolm
