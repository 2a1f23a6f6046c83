#include "nn/relative_position_bias.h"

#include "core/check.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace autolm {

int relative_position_bucket(int relative_position, bool bidirectional, int num_buckets, int max_distance) {
  int bucket = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    relative_position = std::abs(relative_position);
  } else {
    relative_position = -std::min(relative_position, 0);
  }
  const int max_exact = num_buckets / 2;
  if (relative_position < max_exact) return bucket + relative_position;
  const float scaled = std::log(float(relative_position) / float(max_exact)) /
                       float(std::log(double(max_distance) / max_exact)) * float(num_buckets - max_exact);
  // Clamped as a float first: the int conversion of a value past int's range is undefined.
  const int large = max_exact + int(std::min(scaled, float(num_buckets - 1 - max_exact)));
  return bucket + large;
}

RelativePositionBias RelativePositionBias::load(WeightSource& w, const std::string& name,
                                                const RelativePositionBiasOptions& options, bool optional) {
  RelativePositionBias b;
  b.options_ = options;
  const Shape shape{options.num_buckets, options.num_heads};
  b.weight_ = optional ? w.optional(name, shape) : w.require(name, shape);
  return b;
}

void RelativePositionBias::fill(int R, float* table) const {
  AUTOLM_CHECK(!weight_.empty(), "RelativePositionBias used without its table");
  const RelativePositionBiasOptions& o = options_;
  const int width = 2 * R + 1;
  for (int rel = -R; rel <= R; ++rel) {
    const int bucket = relative_position_bucket(rel, o.bidirectional, o.num_buckets, o.max_distance);
    for (int h = 0; h < o.num_heads; ++h) table[h * width + rel + R] = weight_.data[bucket * o.num_heads + h];
  }
}

}  // namespace autolm
