// Argmax and seeded multinomial sampling.
#include "generate/sampling.h"

#include <algorithm>
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
  // Every token masked (e.g. suppress_tokens or bad_words_ids listing the whole vocabulary):
  // torch.multinomial raises too; the settings are the user's.
  if (!(total > 0))
    throw Error(ErrorKind::kInvalidInput,
                "generate: every token of the vocabulary has probability 0 after the logits processors (e.g. "
                "suppress_tokens, bad_words_ids or begin_suppress_tokens ban them all), so nothing can be sampled");
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
  // Successive draws, each from the weights not drawn yet. A Fenwick tree of the weights finds
  // each draw in O(log n) (beam sampling draws 2 × num_beams from num_beams × vocab entries:
  // a linear scan per draw would be quadratic).
  check_no_nan(scores);
  probs_.resize(scores.size());
  softmax(scores, probs_);
  const size_t n = probs_.size();
  std::vector<double> w(probs_.begin(), probs_.end()), tree(n + 1, 0.0);
  std::vector<uint8_t> used(n, 0);
  size_t positive = 0;
  for (size_t i = 0; i < n; ++i) {
    if (w[i] <= 0) w[i] = 0;
    else ++positive;
    tree[i + 1] += w[i];
    const size_t parent = (i + 1) + ((i + 1) & -(i + 1));
    if (parent <= n) tree[parent] += tree[i + 1];
  }
  auto remove = [&](size_t i) {
    const double d = w[i];
    used[i] = 1;
    w[i] = 0;
    for (size_t j = i + 1; j <= n; j += j & -j) tree[j] -= d;
  };
  size_t high = 1;
  while (high * 2 <= n) high *= 2;
  size_t next_unused = 0;  // for draws past the last positive weight (torch errors): next unused id
  std::vector<int32_t> out;
  for (int j = 0; j < k && out.size() < n; ++j) {
    int64_t pick = -1;
    if (positive == 0) {
      while (next_unused < n && used[next_unused]) ++next_unused;
      pick = static_cast<int64_t>(next_unused);
    } else {
      double total = 0;
      for (size_t i = n; i > 0; i -= i & -i) total += tree[i];
      double rem = uniform() * total;
      // The first index whose prefix sum exceeds rem.
      size_t pos = 0;
      for (size_t step = high; step > 0; step /= 2)
        if (pos + step <= n && tree[pos + step] <= rem) {
          pos += step;
          rem -= tree[pos];
        }
      // Rounding at the very end (or on a removed entry's residue): the nearest weight left.
      if (pos >= n || w[pos] <= 0) {
        auto last = std::find_if(w.rbegin() + static_cast<std::ptrdiff_t>(n - std::min(pos, n - 1) - 1), w.rend(),
                                 [](double x) { return x > 0; });
        pos = last != w.rend() ? static_cast<size_t>(w.rend() - last - 1)
                               : static_cast<size_t>(std::find_if(w.begin(), w.end(), [](double x) { return x > 0; }) - w.begin());
      }
      pick = static_cast<int64_t>(pos);
      --positive;
    }
    if (pick < 0 || pick >= static_cast<int64_t>(n)) break;
    out.push_back(static_cast<int32_t>(pick));
    remove(static_cast<size_t>(pick));
  }
  return out;
}

}  // namespace autolm::gen
