// StreamDecoder: incremental detokenization that never emits a partial UTF-8 character,
// following HF tokenizers' DecodeStream (decode a window of context ids, emit the new suffix).
#include "autolm/tokenizer.h"

#include "tokenizer/unicode.h"

namespace autolm {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

static bool ends_incomplete(const std::string& s) {
  // U+FFFD at the end means bytes still waiting for the rest of their character.
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

std::string StreamDecoder::put(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_.decode(ids_, skip_special_, false);
  if (text.size() <= prefix_text_.size() || ends_incomplete(text) || text.compare(0, prefix_text_.size(), prefix_text_) != 0)
    return "";
  std::string out = text.substr(prefix_text_.size());
  // Keep the last emitted ids as context for the next step (Metaspace / Strip decoders
  // depend on the previous token).
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_ids_));
  prefix_text_ = tokenizer_.decode(ids_, skip_special_, false);
  prefix_ids_ = ids_.size();
  return out;
}

std::string StreamDecoder::finish() {
  std::string text = tokenizer_.decode(ids_, skip_special_, false);
  std::string out;
  if (text.size() > prefix_text_.size() && text.compare(0, prefix_text_.size(), prefix_text_) == 0)
    out = text.substr(prefix_text_.size());
  ids_.clear();
  prefix_ids_ = 0;
  prefix_text_.clear();
  return out;
}

}  // namespace autolm
