// Folders without tokenizer.json: SentencePiece models (spiece.model, tokenizer.model, Marian
// source.spm + vocab.json) run through the SentencePiece library, with the special tokens of
// tokenizer_config.json split out first and BOS/EOS added as the transformers class does.
#include <sentencepiece_processor.h>

#include <unordered_set>

#include "autolm/error.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/mmap.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/backend.h"
#include "tokenizer/spm_model.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

// T5's <extra_id_N> sentinels: 100 in every released model; far more is a hostile file.
constexpr int64_t kMaxExtraIds = 1 << 20;

// A token id of vocab.json: an integer in 0..2^31-1, never silently narrowed.
int32_t token_id(const json& v, const std::string& source, const std::string& token) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(INT32_MAX)) return static_cast<int32_t>(v.get<uint64_t>());
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX) return static_cast<int32_t>(v.get<int64_t>());
  throw Error(ErrorKind::kInvalidInput, source + ": id of token \"" + token + "\" must be an integer in 0.." +
                                            std::to_string(INT32_MAX) + ", got " + v.dump());
}

// A key of tokenizer_config.json "added_tokens_decoder": the decimal token id.
int32_t decoder_id(const std::string& key, const std::string& content) {
  int64_t id = 0;
  bool ok = !key.empty() && key.size() <= 10;
  for (char c : key) ok = ok && c >= '0' && c <= '9';
  if (ok) id = std::stoll(key);
  if (!ok || id > INT32_MAX)
    throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: added_tokens_decoder key \"" + key + "\" (token \"" +
                                              content + "\") must be a token id in 0.." + std::to_string(INT32_MAX));
  return static_cast<int32_t>(id);
}

std::optional<std::string> token_string(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

class SpmBackend : public Backend {
 public:
  SpmBackend(const std::string& path, const json& cfg, const std::string& vocab_path) : path_(path) {
    // Read through read_text_file (regular files only, size-bounded), not sp_.Load(path).
    auto st = sp_.LoadFromSerializedProto(read_text_file(path, input_limits().tokenizer_max_bytes));
    if (!st.ok()) throw Error(ErrorKind::kInvalidInput, path + ": cannot load SentencePiece model: " + st.ToString());
    piece_size_ = sp_.GetPieceSize();
    bpe_ = load_spm_model(path).model_type == SpmModel::kBpe;
    if (!vocab_path.empty()) {  // Marian: ids from vocab.json
      json v = load_json_file(vocab_path, input_limits().tokenizer_max_bytes);
      if (!v.is_object()) throw Error(ErrorKind::kInvalidInput, vocab_path + ": vocab.json must be an object");
      std::vector<std::pair<std::string, int32_t>> entries;
      for (auto it = v.begin(); it != v.end(); ++it) entries.emplace_back(it.key(), token_id(it.value(), vocab_path, it.key()));
      vocab_.build(std::move(entries), vocab_path);
      marian_ = true;
    }
    std::string cls = cfg.value("tokenizer_class", std::string());
    bool eos_style = cls.find("T5") != std::string::npos || cls.find("Marian") != std::string::npos ||
                     (cls.empty() && path.find("spiece.model") != std::string::npos);
    bool bos_default = !eos_style;
    add_bos_ = cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean() ? cfg["add_bos_token"].get<bool>() : bos_default;
    add_eos_ = cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean() ? cfg["add_eos_token"].get<bool>() : eos_style;

    std::vector<AddedToken> added;
    std::unordered_set<std::string> seen;  // the first registration of a content wins
    auto add = [&](const std::string& content, std::optional<int32_t> id, bool special) {
      if (seen.count(content)) return;
      if (!id) id = lookup(content);
      if (!id) return;
      AddedToken t;
      t.content = content;
      t.id = *id;
      t.special = special;
      seen.insert(content);
      added.push_back(t);
    };
    if (cfg.contains("added_tokens_decoder") && cfg["added_tokens_decoder"].is_object()) {
      for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
        auto content = token_string(it.value());
        if (!content) continue;
        add(*content, decoder_id(it.key(), *content), it.value().value("special", true));
      }
    }
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"})
      if (cfg.contains(key))
        if (auto s = token_string(cfg[key])) add(*s, std::nullopt, true);
    const int64_t extra_ids = JsonConfig(cfg, "tokenizer_config.json").get_or<int64_t>("extra_ids", 0);
    if (extra_ids < 0 || extra_ids > kMaxExtraIds)
      throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: \"extra_ids\" is " + std::to_string(extra_ids) +
                                                ", expected 0.." + std::to_string(kMaxExtraIds));
    for (int64_t n = 0; n < extra_ids; ++n) {
      std::string t = "<extra_id_" + std::to_string(n) + ">";
      auto id = lookup(t);
      const int64_t new_id = int64_t(piece_size_) + extra_ids - 1 - n;
      if (!id && new_id > INT32_MAX)
        throw Error(ErrorKind::kInvalidInput, "tokenizer_config.json: \"extra_ids\" " + std::to_string(extra_ids) +
                                                  " gives token ids beyond 2^31-1");
      add(t, id ? id : std::optional<int32_t>(static_cast<int32_t>(new_id)), true);
    }
    for (const char* key : {"additional_special_tokens", "extra_special_tokens"})
      if (cfg.contains(key) && cfg[key].is_array())
        for (const auto& v : cfg[key])
          if (auto s = token_string(v)) add(*s, std::nullopt, true);
    vocab_size_ = marian_ ? vocab_.size() : piece_size_;
    for (auto& a : added) {
      if (a.id >= vocab_size_) vocab_size_ = a.id + 1;
      if (a.special) special_ids_.push_back(a.id);
    }
    added_.build(std::move(added), nullptr);
    if (auto b = cfg.contains("bos_token") ? token_string(cfg["bos_token"]) : std::nullopt) bos_id_ = lookup(*b);
    if (!bos_id_ && sp_.bos_id() >= 0 && !marian_) bos_id_ = sp_.bos_id();
    if (auto e = cfg.contains("eos_token") ? token_string(cfg["eos_token"]) : std::nullopt) eos_id_ = lookup(*e);
    if (!eos_id_ && sp_.eos_id() >= 0 && !marian_) eos_id_ = sp_.eos_id();
  }

  Encoding encode(std::string_view text, bool add_special) const override {
    Encoding e;
    std::vector<size_t> byte_offsets;  // pairs, converted to chars at the end
    std::vector<AddedSplit> splits;
    added_.split(text, false, splits);
    for (const auto& s : splits) {
      if (s.id >= 0) {
        e.ids.push_back(s.id);
        e.tokens.emplace_back(text.substr(s.start, s.end - s.start));
        byte_offsets.push_back(s.start);
        byte_offsets.push_back(s.end);
        continue;
      }
      if (s.end == s.start) continue;
      std::string_view chunk = text.substr(s.start, s.end - s.start);
      size_t code_end = 0;
      if (marian_ && chunk.rfind(">>", 0) == 0 && chunk.find("<<") != std::string_view::npos) {
        // MarianTokenizer.remove_language_code: a leading ">>xx<<" is one token (unk if unknown)
        code_end = chunk.find("<<") + 2;
        std::string code(chunk.substr(0, code_end));
        auto id = vocab_.find(code);
        auto unk = vocab_.find("<unk>");
        e.ids.push_back(id ? *id : unk ? *unk : 0);
        e.tokens.push_back(code);
        byte_offsets.push_back(s.start);
        byte_offsets.push_back(s.start + code_end);
        if (code_end == chunk.size()) continue;
      }
      auto spt = sp_.EncodeAsImmutableProto(chunk.substr(code_end));
      for (const auto& p : spt.pieces()) {
        int32_t id = static_cast<int32_t>(p.id());
        if (marian_) {
          auto v = vocab_.find(p.piece());
          auto unk = vocab_.find("<unk>");
          id = v ? *v : unk ? *unk : 0;
        }
        e.ids.push_back(id);
        e.tokens.push_back(p.piece());
        byte_offsets.push_back(s.start + code_end + p.begin());
        byte_offsets.push_back(s.start + code_end + p.end());
      }
    }
    std::vector<uint32_t> cum(text.size() + 1, 0);
    for (size_t b = 0; b < text.size(); ++b) cum[b + 1] = cum[b] + ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80);
    auto to_char = [&](size_t b) -> size_t { return b >= text.size() ? cum[text.size()] : cum[b]; };
    for (size_t i = 0; i < e.ids.size(); ++i) e.offsets.emplace_back(to_char(byte_offsets[2 * i]), to_char(byte_offsets[2 * i + 1]));
    if (add_special) {
      if (add_bos_ && bos_id_) {
        e.ids.insert(e.ids.begin(), *bos_id_);
        e.tokens.insert(e.tokens.begin(), *id_to_token(*bos_id_));
        e.offsets.insert(e.offsets.begin(), {0, 0});
      }
      if (add_eos_ && eos_id_) {
        e.ids.push_back(*eos_id_);
        e.tokens.push_back(*id_to_token(*eos_id_));
        e.offsets.emplace_back(0, 0);
      }
    }
    return e;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    if (marian_) return decode_marian(ids, skip_special);
    std::string out;
    std::vector<std::string> run;
    auto flush = [&] {
      if (run.empty()) return;
      std::string text;
      sp_.Decode(run, &text).IgnoreError();
      out += text;
      run.clear();
    };
    for (int32_t id : ids) {
      if (id < 0) throw Error(ErrorKind::kInvalidInput, "token id " + std::to_string(id) + " is negative");
      if (const AddedToken* a = added_.by_id(id)) {
        if (skip_special && a->special) continue;
        flush();
        out += a->content;
        continue;
      }
      // Ids without a piece (a model's padded vocab_size) are dropped, as the tokenizers
      // pipeline transformers converts the model into does.
      auto t = id_to_token(id);
      if (!t) continue;
      if (sp_.IsControl(id)) {
        if (!skip_special) {
          flush();
          out += *t;
        }
        continue;
      }
      run.push_back(*t);
    }
    flush();
    return out;
  }

  // MarianTokenizer.convert_ids_to_tokens + convert_tokens_to_string: ids through vocab.json
  // (else the SentencePiece piece of that id, else IndexError), special tokens written as they
  // are followed by a space, the pieces between them decoded by SentencePiece, "▁" → " ", and
  // the result stripped.
  std::string decode_marian(std::span<const int32_t> ids, bool skip_special) const {
    std::string out;
    std::vector<std::string> run;
    auto flush = [&] {
      std::string text;
      if (!run.empty()) sp_.Decode(run, &text).IgnoreError();
      out += text;
      run.clear();
    };
    for (int32_t id : ids) {
      if (id < 0) throw Error(ErrorKind::kInvalidInput, "token id " + std::to_string(id) + " is negative");
      std::string tok;
      bool special = false;
      if (const AddedToken* a = added_.by_id(id)) {
        tok = a->content;
        special = a->special;
      } else if (auto v = vocab_.token(id)) {
        tok = std::string(*v);
        special = added_.is_special_content(tok);
      } else if (id < piece_size_) {
        tok = sp_.IdToPiece(id);
      } else {
        throw Error(ErrorKind::kInvalidInput, "token id " + std::to_string(id) +
                                                  " is in neither vocab.json nor the SentencePiece model (vocab size " +
                                                  std::to_string(vocab_size_) + "; transformers' MarianTokenizer raises too)");
      }
      if (skip_special && special) continue;
      if (special) {
        flush();
        out += tok;
        out += ' ';
      } else {
        run.push_back(std::move(tok));
      }
    }
    flush();
    std::string r;
    for (size_t i = 0; i < out.size();) {
      if (out.compare(i, 3, "\xE2\x96\x81") == 0) {
        r += ' ';
        i += 3;
      } else {
        r += out[i++];
      }
    }
    return strip_python(r);
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (auto id = added_.by_content(token)) return id;
    return lookup(std::string(token));
  }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (const AddedToken* a = added_.by_id(id)) return a->content;
    if (marian_) {
      if (auto t = vocab_.token(id)) return std::string(*t);
      return std::nullopt;
    }
    if (id >= 0 && id < piece_size_) return sp_.IdToPiece(id);
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_size_; }
  // transformers converts non-Marian SentencePiece models into the tokenizers pipeline, whose
  // model is BPE for BPE models; MarianTokenizer is a Python tokenizer.
  bool is_bpe() const override { return bpe_ && !marian_; }
  bool is_special(int32_t id) const override {
    for (int32_t s : special_ids_)
      if (s == id) return true;
    return false;
  }

 private:
  std::optional<int32_t> lookup(const std::string& piece) const {
    if (marian_) return vocab_.find(piece);
    int id = sp_.PieceToId(piece);
    if (id < 0 || (sp_.IsUnknown(id) && sp_.IdToPiece(id) != piece)) return std::nullopt;
    return id;
  }

  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  int32_t piece_size_ = 0;
  bool marian_ = false, bpe_ = false;
  Vocab vocab_;
  AddedVocabulary added_;
  std::vector<int32_t> special_ids_;
  int64_t vocab_size_ = 0;
  bool add_bos_ = false, add_eos_ = false;
  std::optional<int32_t> bos_id_, eos_id_;
};

}  // namespace

std::shared_ptr<const Backend> make_sentencepiece_backend(const std::string& model_path, const json& config,
                                                          const std::string& vocab_json_path) {
  try {
    return std::make_shared<SpmBackend>(model_path, config, vocab_json_path);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::kInvalidInput, model_path + ": bad tokenizer_config.json value: " + e.what());
  }
}

}  // namespace autolm::tokenizer_detail
