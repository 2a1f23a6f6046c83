// Internal: the per-row states of GenerateHooks::constraint for the search loops (generate.cc,
// beam_search.cc).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "autolm/generation.h"

namespace autolm::gen {

class RowConstraints {
 public:
  // No constraint in `hooks`: every call is a no-op. Error(kInvalidInput) when there is one but
  // no eos_token_id (a constrained row ends with EOS).
  RowConstraints(const GenerateHooks* hooks, const GenerationConfig& cfg, int rows);
  bool enabled() const { return !states_.empty(); }
  // Row r's scores before the logits processors.
  void mask(int r, std::span<float> scores) {
    if (enabled()) states_[r]->mask(scores);
  }
  // After the processors: masks again (a forced token cannot leave the constraint). When nothing
  // is left (a processor banned every token the constraint allows, e.g. min_new_tokens banning
  // EOS once the output is complete), the scores become `raw` masked: the constraint wins.
  // Returns true when it replaced the scores so.
  bool settle(int r, std::span<float> scores, std::span<const float> raw);
  void advance(int r, int32_t token) {
    if (enabled()) states_[r]->advance(token);
  }
  // Beam search: row i continues row src[i] with token tokens[i].
  void follow(std::span<const int> src, std::span<const int32_t> tokens);

 private:
  std::vector<std::unique_ptr<ConstraintState>> states_, next_;
  std::vector<int> uses_;
};

}  // namespace autolm::gen
