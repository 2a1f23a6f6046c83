// Stop strings over decoded text.
#include "generate/stopping.h"

#include <algorithm>

namespace autolm::gen {

StopStringChecker::StopStringChecker(std::vector<std::string> stops, DecodeCallback decode)
    : stops_(std::move(stops)), decode_(std::move(decode)) {
  if (stops_.empty()) return;
  if (!decode_)
    throw Error(ErrorKind::kInvalidInput,
                "generation config: stop_strings need a decode callback (GenerateHooks::decode, the tokenizer)");
  size_t longest = 0;
  for (const auto& s : stops_) longest = std::max(longest, s.size());
  // Every token that shows text adds at least one byte, so a stop string of L bytes lies within
  // the last L tokens that show text; +1 covers one leading token overhanging the string's start.
  window_ = longest + 1;
}

bool StopStringChecker::hit(std::span<const int32_t> ids) const {
  if (stops_.empty() || ids.empty()) return false;
  const size_t w = std::min(window_, ids.size());
  std::span<const int32_t> tail = ids.subspan(ids.size() - w);
  const std::string all = decode_(tail);
  const std::string prev = decode_(tail.first(w - 1));
  // Text that the last token added starts after the common prefix of the two decodings.
  size_t cp = 0;
  while (cp < prev.size() && cp < all.size() && prev[cp] == all[cp]) ++cp;
  for (const auto& s : stops_) {
    const size_t start = cp >= s.size() ? cp - s.size() + 1 : 0;
    if (all.find(s, start) != std::string::npos) return true;
  }
  return false;
}

}  // namespace autolm::gen
