#include "nn/embedding.h"

#include <cmath>

#include "core/memory.h"

namespace autolm {

Embedding Embedding::load(WeightSource& w, const std::string& tokens_name, int64_t vocab_size, int64_t hidden_size,
                          const EmbeddingOptions& options, const std::string& positions_name) {
  return load(w, w.require_matrix(tokens_name, {vocab_size, hidden_size}), hidden_size, options, positions_name);
}

Embedding Embedding::load(WeightSource& w, const TensorView& tokens, int64_t hidden_size, const EmbeddingOptions& options,
                          const std::string& positions_name) {
  Embedding e;
  e.options_ = options;
  e.hidden_size_ = hidden_size;
  e.tokens_ = tokens;
  const int64_t rows = options.max_positions + options.position_offset;
  if (options.positions == PositionEmbedding::kLearned) {
    e.positions_ = w.require(positions_name, {rows, hidden_size});
  } else if (options.positions == PositionEmbedding::kSinusoidal) {
    check_allocation(double(rows) * double(hidden_size) * sizeof(float),
                     "a " + std::to_string(rows) + " × " + std::to_string(hidden_size) + " sinusoidal position table",
                     "lower max_position_embeddings");
    e.sinusoidal_ = sinusoidal_table(options.sinusoidal, rows, hidden_size, options.padding_idx);
    e.positions_ = TensorView{e.sinusoidal_.data(), {rows, hidden_size}};
  }
  return e;
}

void Embedding::forward(std::span<const int32_t> ids, std::span<const int64_t> positions, float* out) const {
  const int64_t H = hidden_size_;
  for (size_t n = 0; n < ids.size(); ++n) {
    float* o = out + int64_t(n) * H;  // (hidden_size)
    copy_row(tokens_, ids[n], o);
    if (options_.scale != 1.f)
      for (int64_t i = 0; i < H; ++i) o[i] *= options_.scale;
    if (!positions_.empty() && !positions.empty()) add_position(positions[n], o);
  }
}

void Embedding::add_position(int64_t p, float* o) const {
  if (p < 0 || p >= options_.max_positions)
    throw Error(ErrorKind::kInvalidInput, "position " + std::to_string(p) + " is beyond the model's " +
                                              std::to_string(options_.max_positions) + " position embeddings");
  const float* pe = positions_.row(p + options_.position_offset);
  for (int64_t i = 0; i < hidden_size_; ++i) o[i] += pe[i];
}

std::vector<float> sinusoidal_table(SinusoidalLayout layout, int64_t P, int64_t D, int64_t padding_idx) {
  std::vector<float> t(size_t(P * D), 0.f);
  if (layout == SinusoidalLayout::kMarian) {
    // Equivalent in modeling_marian.py (MarianSinusoidalPositionalEmbedding._init_weight): sin in
    // the first half, cos in the second, angles pos / 10000^(2*(j//2)/dim) in float64.
    const int64_t sentinel = D % 2 == 0 ? D / 2 : D / 2 + 1;
    for (int64_t pos = 0; pos < P; ++pos) {
      for (int64_t j = 0; j < D; j += 2) t[pos * D + j / 2] = float(std::sin(pos / std::pow(10000.0, double(j) / D)));
      for (int64_t j = 1; j < D; j += 2)
        t[pos * D + sentinel + j / 2] = float(std::cos(pos / std::pow(10000.0, double(2 * (j / 2)) / D)));
    }
  } else {
    // Equivalent in modeling_m2m_100.py (M2M100SinusoidalPositionalEmbedding.get_embedding):
    // freq_i = exp(-i · ln(10000) / (half - 1)) in float32, [sin | cos] halves, zero row at padding_idx.
    const int64_t half = D / 2;
    const float step = half > 1 ? float(std::log(10000.0) / double(half - 1)) : 0.f;
    for (int64_t pos = 0; pos < P; ++pos) {
      if (pos == padding_idx) continue;
      for (int64_t i = 0; i < half; ++i) {
        const float angle = float(pos) * std::exp(float(i) * -step);
        t[pos * D + i] = std::sin(angle);
        t[pos * D + half + i] = std::cos(angle);
      }
    }
  }
  return t;
}

}  // namespace autolm
