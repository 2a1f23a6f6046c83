// Token selection: argmax (torch.argmax: first maximum) and seeded multinomial sampling over
// softmax(scores) with our own RNG (std::mt19937_64; matching torch's generator is not a goal).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace autolm::gen {

int32_t argmax(std::span<const float> scores);

class Sampler {
 public:
  explicit Sampler(uint64_t seed) : rng_(seed) {}
  // One draw from softmax(scores) (torch.multinomial(softmax(scores), 1)).
  int32_t sample(std::span<const float> scores);
  // `k` draws without replacement (torch.multinomial(..., num_samples=k)), for beam sampling.
  std::vector<int32_t> sample_without_replacement(std::span<const float> scores, int k);
  // Uniform double in [0, 1).
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

 private:
  std::mt19937_64 rng_;
  std::vector<float> probs_;
};

}  // namespace autolm::gen
