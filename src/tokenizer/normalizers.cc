// Normalizers of tokenizer.json (NFC/NFD/NFKC/NFKD, Lowercase, Strip, StripAccents, Replace,
// Prepend, BertNormalizer, Sequence); Precompiled lives in precompiled.cc.
#include <utf8proc.h>

#include <cstdlib>

#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

std::string utf8proc_normalize(std::string_view s, int options) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                        &out, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) return std::string(s);  // cannot happen on valid UTF-8
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

// Unicode normalization with alignments: the text is cut into clusters (a starter and its
// non-starters, merged with the next cluster when they interact), each normalized alone.
class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(int options) : options_(options) {}
  void normalize(NormalizedString& s) const override {
    const std::string& in = s.get();
    bool ascii = true;
    for (unsigned char c : in) ascii &= c < 0x80;
    if (ascii) return;
    if (utf8proc_normalize(in, options_) == in) return;
    // char boundaries
    std::vector<size_t> starts;
    std::vector<bool> starter;
    for (size_t i = 0; i < in.size();) {
      size_t len;
      char32_t c = decode_utf8(in, i, &len);
      starts.push_back(i);
      starter.push_back(utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class == 0);
      i += len;
    }
    starts.push_back(in.size());
    size_t nchars = starts.size() - 1;
    std::vector<std::pair<char32_t, int>> dest;
    dest.reserve(in.size());
    auto cluster_end = [&](size_t b) {
      size_t e = b + 1;
      while (e < nchars && !starter[e]) ++e;
      return e;
    };
    size_t b = 0;
    while (b < nchars) {
      size_t e = cluster_end(b);
      std::string cur_norm = utf8proc_normalize(std::string_view(in).substr(starts[b], starts[e] - starts[b]), options_);
      while (e < nchars) {
        // ASCII followed by ASCII never interacts.
        if (static_cast<unsigned char>(in[starts[e] - 1]) < 0x80 && static_cast<unsigned char>(in[starts[e]]) < 0x80) break;
        size_t e2 = cluster_end(e);
        std::string next_norm = utf8proc_normalize(std::string_view(in).substr(starts[e], starts[e2] - starts[e]), options_);
        std::string joint = utf8proc_normalize(std::string_view(in).substr(starts[b], starts[e2] - starts[b]), options_);
        if (joint == cur_norm + next_norm) break;
        cur_norm = std::move(joint);
        e = e2;
      }
      size_t m = e - b;
      std::vector<char32_t> out;
      for (size_t i = 0; i < cur_norm.size();) {
        size_t len;
        out.push_back(decode_utf8(cur_norm, i, &len));
        i += len;
      }
      size_t k = out.size();
      if (k >= m) {
        for (size_t i = 0; i < k; ++i) dest.emplace_back(out[i], i < m ? 0 : 1);
      } else if (k > 0) {
        for (size_t i = 0; i + 1 < k; ++i) dest.emplace_back(out[i], 0);
        dest.emplace_back(out[k - 1], -static_cast<int>(m - k));
      } else if (!dest.empty()) {
        dest.back().second -= static_cast<int>(m);
      }
      b = e;
    }
    s.transform(dest);
  }

 private:
  int options_;
};

// Replaces every character c by f(c, out) (zero or more characters), keeping HF's alignments;
// leaves the string untouched when nothing changed.
template <typename F>
void map_chars(NormalizedString& s, F f) {
  const std::string& in = s.get();
  std::vector<std::pair<char32_t, int>> dest;
  std::u32string buf;
  bool changed = false;
  for (size_t i = 0; i < in.size();) {
    size_t len;
    char32_t c = decode_utf8(in, i, &len);
    buf.clear();
    f(c, buf);
    changed |= buf.size() != 1 || buf[0] != c;
    for (size_t k = 0; k < buf.size(); ++k) dest.emplace_back(buf[k], k > 0 ? 1 : 0);
    i += len;
  }
  if (changed) s.transform(dest);
}

class Lowercase : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    map_chars(s, [](char32_t c, std::u32string& out) { append_lowercase(out, c); });
  }
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(NormalizedString& s) const override {
    if (left_) s.lstrip();
    if (right_) s.rstrip();
  }

 private:
  bool left_, right_;
};

class StripAccents : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    s.filter([](char32_t c) { return !is_combining_mark(c); });
  }
};

class Replace : public Normalizer {
 public:
  Replace(const json& j, const std::string& source) {
    const json& pat = jfield(j, "pattern", source);
    content_ = jstring(j, "content", source, "");
    if (pat.contains("String")) literal_ = pat.at("String").get<std::string>();
    else if (pat.contains("Regex")) regex_ = std::make_unique<Regex>(pat.at("Regex").get<std::string>(), source);
    else throw Error(ErrorKind::kInvalidInput, source + ": Replace pattern must be String or Regex");
  }
  void normalize(NormalizedString& s) const override {
    s.replace(regex_ ? find_regex(*regex_, s.get()) : find_literal(s.get(), literal_), content_);
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<Regex> regex_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  void normalize(NormalizedString& s) const override {
    if (!s.empty()) s.prepend(prepend_);
  }

 private:
  std::string prepend_;
};

class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip, bool lower)
      : clean_(clean), chinese_(chinese), strip_(strip), lower_(lower) {}
  void normalize(NormalizedString& s) const override {
    if (clean_) {
      s.filter([](char32_t c) { return !(c == 0 || c == 0xFFFD || is_bert_control(c)); });
      map_chars(s, [](char32_t c, std::u32string& out) { out.push_back(is_whitespace(c) ? U' ' : c); });
    }
    if (chinese_) {
      const std::string& in = s.get();
      std::vector<std::pair<char32_t, int>> dest;
      bool any = false;
      for (size_t i = 0; i < in.size();) {
        size_t len;
        char32_t c = decode_utf8(in, i, &len);
        if (is_chinese_char(c)) {
          any = true;
          dest.emplace_back(U' ', 0);
          dest.emplace_back(c, 1);
          dest.emplace_back(U' ', 1);
        } else {
          dest.emplace_back(c, 0);
        }
        i += len;
      }
      if (any) s.transform(dest);
    }
    if (strip_) {
      // HF tokenizers: nfd, then drop Mn (nonspacing marks) only — Mc and Me stay.
      UnicodeNormalizer(UTF8PROC_DECOMPOSE).normalize(s);
      s.filter([](char32_t c) { return !is_nonspacing_mark(c); });
    }
    if (lower_) Lowercase().normalize(s);
  }

 private:
  bool clean_, chinese_, strip_, lower_;
};

class SequenceNormalizer : public Normalizer {
 public:
  void normalize(NormalizedString& s) const override {
    for (auto& n : items_) n->normalize(s);
  }
  std::vector<std::unique_ptr<Normalizer>> items_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string type = jstring(j, "type", source, "");
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Strip") return std::make_unique<Strip>(jbool(j, "strip_left", true), jbool(j, "strip_right", true));
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Replace") return std::make_unique<Replace>(j, source);
  if (type == "Prepend") return std::make_unique<Prepend>(jstring(j, "prepend", source, ""));
  if (type == "Precompiled") return make_precompiled(j, source);
  if (type == "BertNormalizer") {
    bool lower = jbool(j, "lowercase", true);
    bool strip = j.contains("strip_accents") && j["strip_accents"].is_boolean() ? j["strip_accents"].get<bool>() : lower;
    return std::make_unique<BertNormalizer>(jbool(j, "clean_text", true), jbool(j, "handle_chinese_chars", true), strip,
                                            lower);
  }
  if (type == "Sequence") {
    SequenceNesting nesting("normalizer", source);
    auto seq = std::make_unique<SequenceNormalizer>();
    for (const auto& item : jfield(j, "normalizers", source)) {
      auto n = make_normalizer(item, source);
      if (n) seq->items_.push_back(std::move(n));
    }
    return seq;
  }
  unknown_type("normalizer", type, source);
}

}  // namespace autolm::tokenizer_detail
