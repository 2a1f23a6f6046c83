// Argmax and seeded multinomial sampling.
#include "generate/sampling.h"

#include <cmath>

#include "autolm/error.h"
#include "generate/logits_processors.h"

namespace autolm::gen {

int32_t argmax(std::span<const float> scores) {
  // torch.argmax ranks NaN above every number: the first NaN wins (transformers 5.17's
  // exponential_decay_length_penalty can turn a -inf EOS score into NaN).
  int32_t best = 0;
  if (!scores.empty() && std::isnan(scores[0])) return 0;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (std::isnan(scores[i])) return static_cast<int32_t>(i);
    if (scores[i] > scores[best]) best = static_cast<int32_t>(i);
  }
  return best;
}

namespace {

// torch.multinomial raises on NaN probabilities; so do we, as an input error.
void check_no_nan(std::span<const float> scores) {
  for (float s : scores)
    if (std::isnan(s))
      throw Error(ErrorKind::kInvalidInput,
                  "generate: a processed score is NaN, so the row cannot be sampled (torch.multinomial raises "
                  "too); e.g. exponential_decay_length_penalty on an EOS score that an earlier processor set to -inf");
}

}  // namespace

int32_t Sampler::sample(std::span<const float> scores) {
  check_no_nan(scores);
  probs_.resize(scores.size());
  softmax(scores, probs_);
  double total = 0;
  for (float p : probs_) total += p;
  AUTOLM_CHECK(total > 0, "sampling from a row whose every score is -inf");
  const double u = uniform() * total;
  double cum = 0;
  int32_t last_nonzero = 0;
  for (size_t i = 0; i < probs_.size(); ++i) {
    if (probs_[i] <= 0) continue;
    cum += probs_[i];
    last_nonzero = static_cast<int32_t>(i);
    if (u < cum) return last_nonzero;
  }
  return last_nonzero;  // rounding at the very end of the distribution
}

std::vector<int32_t> Sampler::sample_without_replacement(std::span<const float> scores, int k) {
  check_no_nan(scores);
  probs_.resize(scores.size());
  softmax(scores, probs_);
  std::vector<double> w(probs_.begin(), probs_.end());
  std::vector<uint8_t> used(w.size(), 0);
  std::vector<int32_t> out;
  for (int j = 0; j < k; ++j) {
    double total = 0;
    for (size_t i = 0; i < w.size(); ++i)
      if (!used[i]) total += w[i];
    int32_t pick = -1;
    if (total <= 0) {  // fewer non-zero entries than k (torch errors): take the next unused id
      for (size_t i = 0; i < w.size() && pick < 0; ++i)
        if (!used[i]) pick = static_cast<int32_t>(i);
    } else {
      const double u = uniform() * total;
      double cum = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        if (used[i] || w[i] <= 0) continue;
        cum += w[i];
        pick = static_cast<int32_t>(i);
        if (u < cum) break;
      }
    }
    if (pick < 0) break;
    out.push_back(pick);
    used[pick] = 1;
  }
  return out;
}

}  // namespace autolm::gen
