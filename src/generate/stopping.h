// Stopping criteria beyond EOS and max_length: stop strings matched on decoded text across token
// boundaries (transformers' StopStringCriteria: a stop string counts when it overlaps the last
// token, overhangs included).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "autolm/generation.h"

namespace autolm::gen {

class StopStringChecker {
 public:
  StopStringChecker() = default;
  StopStringChecker(std::vector<std::string> stops, DecodeCallback decode);
  bool enabled() const { return !stops_.empty(); }
  // True when a stop string occurs in the decoded text of `ids` and ends inside (or overhangs)
  // the text of the last token.
  bool hit(std::span<const int32_t> ids) const;

 private:
  std::vector<std::string> stops_;
  DecodeCallback decode_;
  size_t window_ = 0;  // tokens decoded from the end: longest stop string (bytes) + 1
};

}  // namespace autolm::gen
