// RowConstraints: one ConstraintState per row; beams clone their source's state.
#include "generate/row_constraints.h"

#include <cmath>
#include <string>

namespace autolm::gen {

RowConstraints::RowConstraints(const GenerateHooks* hooks, const GenerationConfig& cfg, int rows) {
  if (!hooks || !hooks->constraint) return;
  if (cfg.eos_token_id.empty())
    throw Error(ErrorKind::kInvalidInput,
                "generate: a constraint (structured output) needs eos_token_id: a constrained row ends with EOS "
                "once its output is complete");
  states_.reserve(rows);
  for (int r = 0; r < rows; ++r) states_.push_back(hooks->constraint->start(cfg.eos_token_id));
}

bool RowConstraints::settle(int r, std::span<float> scores, std::span<const float> raw) {
  if (!enabled()) return false;
  states_[r]->remask(scores);
  for (float s : scores)
    if (!(std::isinf(s) && s < 0)) return false;
  std::copy(raw.begin(), raw.end(), scores.begin());
  states_[r]->remask(scores);
  return true;
}

void RowConstraints::follow(std::span<const int> src, std::span<const int32_t> tokens) {
  if (!enabled()) return;
  const size_t rows = states_.size();
  uses_.assign(rows, 0);
  for (int s : src) ++uses_[s];
  next_.resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    const int s = src[i];
    // A source continued once moves; one continued by several beams is copied for each.
    next_[i] = uses_[s] == 1 ? std::move(states_[s]) : states_[s]->clone();
    next_[i]->advance(tokens[i]);
  }
  states_.swap(next_);
}

}  // namespace autolm::gen
