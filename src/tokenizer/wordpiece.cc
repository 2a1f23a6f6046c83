// WordPiece (greedy longest-match-first with continuing_subword_prefix) and WordLevel models.
#include <algorithm>

#include "autolm/error.h"
#include "tokenizer/components.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace autolm::tokenizer_detail {
namespace {

void load_vocab_object(const json& j, ModelTables& t, const std::string& source, Vocab& vocab, const char* what) {
  require_vocab(j, t, ModelTables::Vocab::kObject, what, source);
  vocab.build(std::move(t.tokens), t.ids, source);
}

class WordPiece : public Model {
 public:
  WordPiece(const json& j, ModelTables& t, const std::string& source) : source_(source) {
    for (size_t i = 0; i < t.tokens.size(); ++i) max_token_bytes_ = std::max(max_token_bytes_, t.tokens[i].size());
    load_vocab_object(j, t, source, vocab_, "WordPiece");
    unk_ = jstring(j, "unk_token", source, "[UNK]");
    prefix_ = jstring(j, "continuing_subword_prefix", source, "##");
    if (j.contains("max_input_chars_per_word") && j["max_input_chars_per_word"].is_number_integer())
      max_chars_ = j["max_input_chars_per_word"].get<size_t>();
  }
  void tokenize(std::string_view s, std::vector<Token>& out) const override {
    if (s.empty()) return;
    if (count_chars(s) > max_chars_) return push_unk(s, out);
    std::vector<Token> subs;
    size_t start = 0;
    std::string buf;
    while (start < s.size()) {
      // No vocab entry is longer than max_token_bytes_: longer candidates cannot match, and
      // trying them makes a long word (max_input_chars_per_word is the file's) cubic.
      size_t end = start + std::min(s.size() - start, max_token_bytes_);
      while (end > start && end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
      bool found = false;
      while (start < end) {
        buf.clear();
        if (start > 0) buf += prefix_;
        buf.append(s.substr(start, end - start));
        if (auto id = vocab_.find(buf)) {
          subs.push_back({*id, buf, start, end});
          found = true;
          break;
        }
        // drop the last character
        size_t e = end - 1;
        while (e > start && (static_cast<unsigned char>(s[e]) & 0xC0) == 0x80) --e;
        end = e;
      }
      if (!found) return push_unk(s, out);
      start = end;
    }
    for (auto& t : subs) out.push_back(std::move(t));
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (auto t = vocab_.token(id)) return *t;
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_.size(); }

 private:
  void push_unk(std::string_view s, std::vector<Token>& out) const {
    auto id = vocab_.find(unk_);
    if (!id) throw Error(ErrorKind::kInvalidInput, source_ + ": WordPiece unk_token \"" + unk_ + "\" is not in the vocab");
    out.push_back({*id, unk_, 0, s.size()});
  }
  std::string source_;
  Vocab vocab_;
  std::string unk_, prefix_;
  size_t max_chars_ = 100;
  size_t max_token_bytes_ = 0;  // the longest vocab entry
};

class WordLevel : public Model {
 public:
  WordLevel(const json& j, ModelTables& t, const std::string& source) : source_(source) {
    load_vocab_object(j, t, source, vocab_, "WordLevel");
    unk_ = jstring(j, "unk_token", source, "<unk>");
  }
  void tokenize(std::string_view s, std::vector<Token>& out) const override {
    if (auto id = vocab_.find(s)) {
      out.push_back({*id, std::string(s), 0, s.size()});
    } else if (auto uid = vocab_.find(unk_)) {
      out.push_back({*uid, unk_, 0, s.size()});
    } else {
      throw Error(ErrorKind::kInvalidInput, source_ + ": WordLevel unk_token \"" + unk_ + "\" is not in the vocab");
    }
  }
  std::optional<int32_t> token_to_id(std::string_view t) const override { return vocab_.find(t); }
  std::optional<std::string_view> id_to_token(int32_t id) const override {
    if (auto t = vocab_.token(id)) return *t;
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_.size(); }

 private:
  std::string source_;
  Vocab vocab_;
  std::string unk_;
};

}  // namespace

std::unique_ptr<Model> make_wordpiece(const json& j, ModelTables& t, const std::string& source) {
  return std::make_unique<WordPiece>(j, t, source);
}
std::unique_ptr<Model> make_wordlevel(const json& j, ModelTables& t, const std::string& source) {
  return std::make_unique<WordLevel>(j, t, source);
}

std::unique_ptr<Model> make_model(const json& j, ModelTables& t, const std::string& source) {
  if (!j.is_object()) throw Error(ErrorKind::kInvalidInput, source + ": \"model\" must be an object");
  std::string type = jstring(j, "type", source, "");
  if (type.empty()) {  // old files: infer from fields
    if (t.has_merges || j.contains("merges")) type = "BPE";
    else if (t.vocab == ModelTables::Vocab::kArray) type = "Unigram";
    else if (j.contains("continuing_subword_prefix")) type = "WordPiece";
    else type = "WordLevel";
  }
  if (type == "BPE") return make_bpe(j, t, source);
  if (type == "Unigram") return make_unigram(j, t, source);
  if (type == "WordPiece") return make_wordpiece(j, t, source);
  if (type == "WordLevel") return make_wordlevel(j, t, source);
  unknown_type("model", type, source);
}

}  // namespace autolm::tokenizer_detail
