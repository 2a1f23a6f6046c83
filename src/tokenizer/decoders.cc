// Decoders: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, WordPiece, BPEDecoder,
// CTC and Sequence, each a decode_chain over token strings as in HF tokenizers.
#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0, prev = 0;
  bool any = false;
  while ((pos = s.find(from, prev)) != std::string::npos) {
    any = true;
    out.append(s, prev, pos - prev);
    out.append(to);
    prev = pos + from.size();
  }
  if (!any) return;
  out.append(s, prev, std::string::npos);
  s = std::move(out);
}

// Decodes invalid UTF-8 the way Rust's String::from_utf8_lossy does (same as Python "replace").
std::string lossy(std::string_view bytes) {
  std::string out;
  if (sanitize_utf8(bytes, out)) return std::string(bytes);
  return out;
}

class ByteLevelDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) {
      size_t mark = bytes.size();
      bool ok = true;
      for (size_t i = 0; i < t.size();) {
        size_t len;
        int b = char_to_byte(decode_utf8(t, i, &len));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
        i += len;
      }
      if (!ok) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, lossy(bytes));
  }
};

class MetaspaceDec : public Decoder {
 public:
  MetaspaceDec(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], rep_, i == 0 && prepend_ ? "" : " ");
  }

 private:
  std::string rep_;
  bool prepend_;
};

class ByteFallbackDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (is_valid_utf8(pending)) out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) {
          return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        };
        int h = hex(t[3]), l = hex(t[4]);
        if (h >= 0 && l >= 0) byte = h * 16 + l;
      }
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDec : public Decoder {
 public:
  StripDec(char32_t c, size_t start, size_t stop) : c_(c), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::u32string cs;
      for (size_t i = 0; i < t.size();) {
        size_t len;
        cs.push_back(decode_utf8(t, i, &len));
        i += len;
      }
      size_t a = 0, b = cs.size();
      for (size_t i = 0; i < start_ && i < cs.size() && cs[i] == c_; ++i) a = i + 1;
      for (size_t i = 0; i < stop_ && i < cs.size(); ++i) {
        size_t idx = cs.size() - i - 1;
        if (cs[idx] != c_) break;
        b = idx;
      }
      std::string r;
      for (size_t i = a; i < b; ++i) append_utf8(r, cs[i]);
      t = std::move(r);
    }
  }

 private:
  char32_t c_;
  size_t start_, stop_;
};

class ReplaceDec : public Decoder {
 public:
  ReplaceDec(const json& j, const std::string& source) {
    const json& pat = jfield(j, "pattern", source);
    content_ = jstring(j, "content", source, "");
    if (pat.contains("String")) literal_ = pat.at("String").get<std::string>();
    else if (pat.contains("Regex")) re_ = std::make_unique<Regex>(pat.at("Regex").get<std::string>(), source);
    else throw Error(ErrorKind::kInvalidInput, source + ": Replace pattern must be String or Regex");
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      if (!re_) {
        replace_all(t, literal_, content_);
        continue;
      }
      NormalizedString ns(t, 0);
      ns.replace(find_regex(*re_, t), content_);
      t = ns.get();
    }
  }

 private:
  std::string literal_, content_;
  std::unique_ptr<Regex> re_;
};

std::string wordpiece_cleanup(std::string s) {
  replace_all(s, " .", ".");
  replace_all(s, " ?", "?");
  replace_all(s, " !", "!");
  replace_all(s, " ,", ",");
  replace_all(s, " ' ", "'");
  replace_all(s, " n't", "n't");
  replace_all(s, " 'm", "'m");
  replace_all(s, " do not", " don't");
  replace_all(s, " 's", "'s");
  replace_all(s, " 've", "'ve");
  replace_all(s, " 're", "'re");
  return s;
}

class WordPieceDec : public Decoder {
 public:
  WordPieceDec(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto& t = tokens[i];
      if (i != 0) {
        if (!prefix_.empty() && t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
        else t = " " + t;
      }
      if (cleanup_) t = wordpiece_cleanup(std::move(t));
    }
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class BpeDec : public Decoder {
 public:
  explicit BpeDec(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }

 private:
  std::string suffix_;
};

class CtcDec : public Decoder {
 public:
  CtcDec(std::string pad, std::string delim, bool cleanup) : pad_(std::move(pad)), delim_(std::move(delim)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;
      std::string t = tokens[i] == pad_ ? "" : tokens[i];
      if (cleanup_) {
        t = wordpiece_cleanup(std::move(t));
        replace_all(t, delim_, " ");
      }
      if (!t.empty()) out.push_back(std::move(t));
    }
    tokens = std::move(out);
  }

 private:
  std::string pad_, delim_;
  bool cleanup_;
};

class SequenceDec : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& d : items_) d->decode_chain(tokens);
  }
  std::vector<std::unique_ptr<Decoder>> items_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string type = jstring(j, "type", source, "");
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Metaspace") {
    std::string scheme = jstring(j, "prepend_scheme", source, "");
    bool prepend = scheme.empty() ? jbool(j, "add_prefix_space", true) : scheme != "never";
    return std::make_unique<MetaspaceDec>(jstring(j, "replacement", source, "\xE2\x96\x81"), prepend);
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip") {
    std::string c = jstring(j, "content", source, " ");
    size_t len;
    char32_t ch = c.empty() ? U' ' : decode_utf8(c, 0, &len);
    return std::make_unique<StripDec>(ch, j.value("start", 0), j.value("stop", 0));
  }
  if (type == "Replace") return std::make_unique<ReplaceDec>(j, source);
  if (type == "WordPiece")
    return std::make_unique<WordPieceDec>(jstring(j, "prefix", source, "##"), jbool(j, "cleanup", true));
  if (type == "BPEDecoder") return std::make_unique<BpeDec>(jstring(j, "suffix", source, "</w>"));
  if (type == "CTC")
    return std::make_unique<CtcDec>(jstring(j, "pad_token", source, "<pad>"), jstring(j, "word_delimiter_token", source, "|"),
                                    jbool(j, "cleanup", true));
  if (type == "Sequence") {
    SequenceNesting nesting("decoder", source);
    auto seq = std::make_unique<SequenceDec>();
    for (const auto& item : jfield(j, "decoders", source)) {
      auto d = make_decoder(item, source);
      if (d) seq->items_.push_back(std::move(d));
    }
    return seq;
  }
  unknown_type("decoder", type, source);
}

}  // namespace autolm::tokenizer_detail
