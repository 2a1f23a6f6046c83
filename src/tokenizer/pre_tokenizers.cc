// Pre-tokenizers of tokenizer.json: ByteLevel, Metaspace, Split, Whitespace, WhitespaceSplit,
// Punctuation, Digits, BertPreTokenizer, CharDelimiterSplit, Sequence.
#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Applies `fn(piece, out)` to every piece.
template <typename F>
void split_each(std::vector<NormalizedString>& pieces, F fn) {
  std::vector<NormalizedString> out;
  out.reserve(pieces.size() * 2);
  for (auto& p : pieces) fn(p, out);
  pieces = std::move(out);
}

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, const std::string& source)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {
    if (use_regex_) re_ = std::make_unique<Regex>(kGpt2Pattern, source);
  }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& p, std::vector<NormalizedString>& out) {
      if (add_prefix_space_ && (p.get().empty() || p.get()[0] != ' ')) p.prepend(" ");
      if (use_regex_) p.split(find_regex(*re_, p.get()), SplitBehavior::kIsolated, out);
      else if (!p.empty()) out.push_back(std::move(p));
    });
    const char32_t* table = byte_to_char_table();
    std::vector<std::pair<char32_t, int>> dest;
    for (auto& p : pieces) {
      const std::string& s = p.get();
      dest.clear();
      dest.reserve(s.size());
      for (size_t i = 0; i < s.size();) {
        size_t len = utf8_len(static_cast<unsigned char>(s[i]));
        for (size_t k = 0; k < len; ++k) dest.emplace_back(table[static_cast<unsigned char>(s[i + k])], k > 0 ? 1 : 0);
        i += len;
      }
      p.transform(dest);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
  std::unique_ptr<Regex> re_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(char32_t replacement, std::string scheme, bool split)
      : rep_(to_utf8(replacement)), scheme_(std::move(scheme)), split_(split) {}
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& p, std::vector<NormalizedString>& out) {
      p.replace(find_literal(p.get(), " "), rep_);
      bool starts = p.get().compare(0, rep_.size(), rep_) == 0;
      if (scheme_ == "always" && !starts) p.prepend(rep_);
      else if (scheme_ == "first" && !starts && p.original_start() == 0) p.prepend(rep_);
      if (split_) p.split(find_literal(p.get(), rep_), SplitBehavior::kMergedWithNext, out);
      else if (!p.empty()) out.push_back(std::move(p));
    });
  }

 private:
  std::string rep_, scheme_;
  bool split_;
};

class Split : public PreTokenizer {
 public:
  Split(const json& j, const std::string& source) {
    const json& pat = jfield(j, "pattern", source);
    if (pat.contains("String")) literal_ = pat.at("String").get<std::string>();
    else if (pat.contains("Regex")) re_ = std::make_unique<Regex>(pat.at("Regex").get<std::string>(), source);
    else throw Error(ErrorKind::kInvalidInput, source + ": Split pattern must be String or Regex");
    behavior_ = parse_split_behavior(jstring(j, "behavior", source, "Isolated"), source);
    invert_ = jbool(j, "invert", false);
  }
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& p, std::vector<NormalizedString>& out) {
      Matches m = re_ ? find_regex(*re_, p.get()) : find_literal(p.get(), literal_);
      if (invert_) invert(m);
      p.split(m, behavior_, out);
    });
  }

 private:
  std::string literal_;
  std::unique_ptr<Regex> re_;
  SplitBehavior behavior_;
  bool invert_;
};

class Whitespace : public PreTokenizer {
 public:
  explicit Whitespace(const std::string& source) : re_(R"(\w+|[^\w\s]+)", source) {}
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& p, std::vector<NormalizedString>& out) {
      Matches m = find_regex(re_, p.get());
      invert(m);
      p.split(m, SplitBehavior::kRemoved, out);
    });
  }

 private:
  Regex re_;
};

template <typename Pred>
class CharSplit : public PreTokenizer {
 public:
  CharSplit(Pred pred, SplitBehavior b) : pred_(pred), behavior_(b) {}
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    split_each(pieces, [&](NormalizedString& p, std::vector<NormalizedString>& out) {
      p.split(find_char_pred(p.get(), pred_), behavior_, out);
    });
  }

 private:
  Pred pred_;
  SplitBehavior behavior_;
};
template <typename Pred>
std::unique_ptr<PreTokenizer> char_split(Pred p, SplitBehavior b) {
  return std::make_unique<CharSplit<Pred>>(p, b);
}

class SequencePre : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<NormalizedString>& pieces) const override {
    for (auto& p : items_) p->pre_tokenize(pieces);
  }
  std::vector<std::unique_ptr<PreTokenizer>> items_;
};

char32_t first_char(const std::string& s, const std::string& source, const char* what) {
  if (s.empty()) throw Error(ErrorKind::kInvalidInput, source + ": empty " + what);
  size_t len;
  return decode_utf8(s, 0, &len);
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& source) {
  if (j.is_null()) return nullptr;
  std::string type = jstring(j, "type", source, "");
  if (type == "ByteLevel")
    return std::make_unique<ByteLevel>(jbool(j, "add_prefix_space", true), jbool(j, "use_regex", true), source);
  if (type == "Metaspace") {
    std::string scheme = jstring(j, "prepend_scheme", source, "");
    if (scheme.empty()) scheme = jbool(j, "add_prefix_space", true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never")
      throw Error(ErrorKind::kUnsupported, source + ": unknown Metaspace prepend_scheme \"" + scheme + "\"");
    return std::make_unique<Metaspace>(first_char(jstring(j, "replacement", source, "\xE2\x96\x81"), source, "replacement"),
                                       scheme, jbool(j, "split", true));
  }
  if (type == "Split") return std::make_unique<Split>(j, source);
  if (type == "Whitespace") return std::make_unique<Whitespace>(source);
  if (type == "WhitespaceSplit") return char_split([](char32_t c) { return is_whitespace(c); }, SplitBehavior::kRemoved);
  if (type == "Punctuation")
    return char_split([](char32_t c) { return is_punctuation(c); },
                      parse_split_behavior(jstring(j, "behavior", source, "Isolated"), source));
  if (type == "Digits")
    return char_split([](char32_t c) { return is_numeric(c); },
                      jbool(j, "individual_digits", false) ? SplitBehavior::kIsolated : SplitBehavior::kContiguous);
  if (type == "CharDelimiterSplit") {
    char32_t d = first_char(jstring(j, "delimiter", source, ""), source, "delimiter");
    return char_split([d](char32_t c) { return c == d; }, SplitBehavior::kRemoved);
  }
  if (type == "BertPreTokenizer") {
    auto seq = std::make_unique<SequencePre>();
    seq->items_.push_back(char_split([](char32_t c) { return is_whitespace(c); }, SplitBehavior::kRemoved));
    seq->items_.push_back(char_split([](char32_t c) { return is_punctuation(c); }, SplitBehavior::kIsolated));
    return seq;
  }
  if (type == "Sequence") {
    SequenceNesting nesting("pre_tokenizer", source);
    auto seq = std::make_unique<SequencePre>();
    for (const auto& item : jfield(j, "pretokenizers", source)) {
      auto p = make_pre_tokenizer(item, source);
      if (p) seq->items_.push_back(std::move(p));
    }
    return seq;
  }
  unknown_type("pre_tokenizer", type, source);
}

}  // namespace autolm::tokenizer_detail
