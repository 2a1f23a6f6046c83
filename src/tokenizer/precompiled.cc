// Precompiled normalizer: SentencePiece's compiled charsmap (base64 blob = darts-clone
// double-array trie + NUL-separated normalized strings), applied per grapheme like HF's
// spm_precompiled crate does.
#include <utf8proc.h>

#include <cstring>

#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

std::string base64_decode(const std::string& in, const std::string& source) {
  static int table[256];
  static bool init = false;
  if (!init) {
    for (int& t : table) t = -1;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(a[i])] = i;
    init = true;
  }
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = table[c];
    if (v < 0) throw Error(ErrorKind::kInvalidInput, source + ": precompiled_charsmap is not valid base64");
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

class Precompiled : public Normalizer {
 public:
  Precompiled(const json& j, const std::string& source) {
    const json& blob = jfield(j, "precompiled_charsmap", source);
    if (blob.is_null()) return;
    std::string data = base64_decode(blob.get<std::string>(), source);
    if (data.empty()) return;
    if (data.size() < 4) throw Error(ErrorKind::kInvalidInput, source + ": precompiled_charsmap too short");
    uint32_t trie_size;
    std::memcpy(&trie_size, data.data(), 4);
    if (4 + static_cast<size_t>(trie_size) > data.size())
      throw Error(ErrorKind::kInvalidInput, source + ": precompiled_charsmap trie size out of range");
    array_.resize(trie_size / 4);
    std::memcpy(array_.data(), data.data() + 4, array_.size() * 4);
    normalized_ = data.substr(4 + trie_size);
  }

  void normalize(NormalizedString& s) const override {
    if (array_.empty()) return;
    const std::string& in = s.get();
    std::vector<std::pair<char32_t, int>> dest;
    dest.reserve(in.size());
    bool modified = false;
    size_t g = 0;
    while (g < in.size()) {
      // next extended grapheme cluster [g, ge)
      size_t len;
      char32_t c = decode_utf8(in, g, &len);
      size_t ge = g + len;
      utf8proc_int32_t state = 0;
      char32_t prev = c;
      while (ge < in.size()) {
        size_t l2;
        char32_t n = decode_utf8(in, ge, &l2);
        if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev), static_cast<utf8proc_int32_t>(n), &state))
          break;
        prev = n;
        ge += l2;
      }
      std::string_view grapheme(in.data() + g, ge - g);
      const char* norm = nullptr;
      if (grapheme.size() < 6 && (norm = transform(grapheme))) {
        modified = true;
        replace(dest, grapheme, norm);
      } else {
        for (size_t i = 0; i < grapheme.size();) {
          size_t l;
          char32_t ch = decode_utf8(grapheme, i, &l);
          std::string_view part = grapheme.substr(i, l);
          if ((norm = transform(part))) {
            modified = true;
            replace(dest, part, norm);
          } else {
            dest.emplace_back(ch, 0);
          }
          i += l;
        }
      }
      g = ge;
      s.check_growth(dest.size());  // replacements come from the file: bounded before they pile up
    }
    if (modified) s.transform(dest);
  }

 private:
  static void replace(std::vector<std::pair<char32_t, int>>& dest, std::string_view old_part, std::string_view new_part) {
    int old_count = static_cast<int>(count_chars(old_part));
    int new_count = static_cast<int>(count_chars(new_part));
    int diff = new_count - old_count;
    for (size_t i = 0; i < new_part.size();) {
      size_t l;
      dest.emplace_back(decode_utf8(new_part, i, &l), 0);
      i += l;
    }
    if (diff > 0) {
      for (int k = 0; k < diff; ++k) dest[dest.size() - 1 - k].second = 1;
    } else if (diff < 0 && !dest.empty()) {
      dest.back().second += diff;
    }
  }

  // Shortest key that is a prefix of `chunk` (spm_precompiled's results[0]).
  const char* transform(std::string_view chunk) const {
    size_t node = 0;
    uint32_t unit = array_[node];
    node ^= offset(unit);
    for (unsigned char c : chunk) {
      if (c == 0) break;
      node ^= c;
      if (node >= array_.size()) return nullptr;
      unit = array_[node];
      if (label(unit) != c) return nullptr;
      node ^= offset(unit);
      if (node >= array_.size()) return nullptr;
      if (has_leaf(unit)) {
        uint32_t v = array_[node] & 0x7FFFFFFFu;
        if (v >= normalized_.size()) return nullptr;
        return normalized_.c_str() + v;
      }
    }
    return nullptr;
  }
  static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
  static size_t offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

  std::vector<uint32_t> array_;
  std::string normalized_;
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const json& j, const std::string& source) {
  return std::make_unique<Precompiled>(j, source);
}

}  // namespace autolm::tokenizer_detail
