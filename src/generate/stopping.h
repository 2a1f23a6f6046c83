// Stopping criteria beyond EOS and max_length: max_time (MaxTimeCriteria) and stop strings matched
// on decoded text across token boundaries (transformers' StopStringCriteria: a stop string counts
// when it overlaps the last token, overhangs included).
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "autolm/generation.h"

namespace autolm::gen {

// MaxTimeCriteria: true once more than max_time seconds passed since construction (transformers
// builds it with the other criteria, after the encoder ran and before the first decoder step).
// Every row stops together.
class MaxTime {
 public:
  explicit MaxTime(std::optional<double> seconds)
      : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  bool exceeded() const {
    return seconds_ && std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() > *seconds_;
  }

 private:
  std::optional<double> seconds_;
  std::chrono::steady_clock::time_point start_;
};

class StopStringChecker {
 public:
  StopStringChecker() = default;
  StopStringChecker(std::vector<std::string> stops, DecodeCallback decode);
  bool enabled() const { return !stops_.empty(); }
  // True when a stop string occurs in the decoded text of `ids` and ends inside (or overhangs)
  // the text of the last token.
  bool hit(std::span<const int32_t> ids) const;
  // hit() looks at no more than this many trailing tokens.
  size_t window() const { return window_; }

 private:
  std::vector<std::string> stops_;
  DecodeCallback decode_;
  size_t window_ = 0;  // tokens decoded from the end: longest stop string (bytes) + 1
};

}  // namespace autolm::gen
