// log_softmax of one row for GenerateHooks::logprobs (see logprobs.h).
#include "generate/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace autolm::gen {

void token_logprobs(std::span<const float> logits, int32_t token, int top_n, StepLogprobs& out) {
  float m = -std::numeric_limits<float>::infinity();
  for (float x : logits) m = std::max(m, x);
  double sum = 0.0;
  if (std::isfinite(m))
    for (float x : logits) sum += std::exp(double(x) - double(m));
  const double lse = std::isfinite(m) ? double(m) + std::log(sum) : double(m);
  auto lp = [&](int32_t t) { return static_cast<float>(double(logits[t]) - lse); };
  out.chosen = {token, token >= 0 && size_t(token) < logits.size() ? lp(token) : -std::numeric_limits<float>::infinity()};
  out.top.clear();
  const size_t n = std::min(logits.size(), static_cast<size_t>(std::max(top_n, 0)));
  if (n == 0) return;
  // "a before b": larger logit, then lower id (NaN ranks as -inf, keeping the order strict).
  auto key = [&](int32_t t) { return std::isnan(logits[t]) ? -std::numeric_limits<float>::infinity() : logits[t]; };
  auto before = [&](int32_t a, int32_t b) { return key(a) > key(b) || (key(a) == key(b) && a < b); };
  std::vector<int32_t> best;  // sorted by `before`, at most n
  best.reserve(n + 1);
  if (n <= 64) {
    for (int32_t t = 0; t < static_cast<int32_t>(logits.size()); ++t) {
      if (best.size() == n && !before(t, best.back())) continue;
      best.insert(std::upper_bound(best.begin(), best.end(), t, before), t);
      if (best.size() > n) best.pop_back();
    }
  } else {
    best.resize(logits.size());
    std::iota(best.begin(), best.end(), 0);
    std::partial_sort(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(n), best.end(), before);
    best.resize(n);
  }
  for (int32_t t : best) out.top.push_back({t, lp(t)});
}

}  // namespace autolm::gen
