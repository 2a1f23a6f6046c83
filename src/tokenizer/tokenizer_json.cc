// The tokenizer.json pipeline: added tokens → normalizer → pre-tokenizer → model →
// post-processor, and decoding through the decoder chain (HF tokenizers' TokenizerImpl).
#include <algorithm>
#include <unordered_map>

#include "autolm/error.h"
#include "io/limits.h"
#include "io/mmap.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/backend.h"
#include "tokenizer/components.h"
#include "tokenizer/token_bytes.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {
namespace {

class JsonBackend : public Backend {
 public:
  JsonBackend(const json& j, ModelTables& tables, const std::string& source) {
    if (!j.is_object()) throw Error(ErrorKind::kInvalidInput, source + ": tokenizer.json must be a JSON object");
    normalizer_ = make_normalizer(j.value("normalizer", json()), source);
    pre_tokenizer_ = make_pre_tokenizer(j.value("pre_tokenizer", json()), source);
    {
      const json& m = jfield(j, "model", source);
      std::string type = m.is_object() ? m.value("type", std::string()) : std::string();
      is_bpe_ = type == "BPE" || (type.empty() && (tables.has_merges || (m.is_object() && m.contains("merges"))));
    }
    model_ = make_model(jfield(j, "model", source), tables, source);
    post_processor_ = make_post_processor(j.value("post_processor", json()), source);
    decoder_ = make_decoder(j.value("decoder", json()), source);
    byte_form_ = token_byte_form(j.value("decoder", json()));
    std::vector<AddedToken> added;
    int64_t max_added = -1;
    std::unordered_map<std::string, int32_t> added_ids;  // contents not in the model's vocab
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
      for (const auto& a : j["added_tokens"]) {
        AddedToken t;
        t.content = jfield(a, "content", source).get<std::string>();
        const json& id = jfield(a, "id", source);
        if (!id.is_number_integer() || id.get<int64_t>() < 0)
          throw Error(ErrorKind::kInvalidInput, source + ": added token \"" + t.content + "\" has a bad id");
        // HF re-assigns ids on load: the model's id when the content is in its vocab, else
        // the next id after the vocab / the largest added id (the JSON id is not used).
        (void)id;
        if (auto mid = model_->token_to_id(t.content)) {
          t.id = *mid;
        } else {
          auto prev = added_ids.find(t.content);  // a content listed twice keeps its first id
          if (prev != added_ids.end()) {
            t.id = prev->second;
          } else {
            int64_t vs = model_->vocab_size();
            if (max_added < 0) t.id = static_cast<int32_t>(vs);
            else t.id = static_cast<int32_t>((max_added >= vs || vs == 0) ? max_added + 1 : vs);
            added_ids.emplace(t.content, t.id);
          }
        }
        max_added = std::max<int64_t>(max_added, t.id);
        t.special = jbool(a, "special", false);
        t.normalized = jbool(a, "normalized", !t.special);
        t.lstrip = jbool(a, "lstrip", false);
        t.rstrip = jbool(a, "rstrip", false);
        t.single_word = jbool(a, "single_word", false);
        added.push_back(std::move(t));
      }
    }
    added_.build(std::move(added), normalizer_.get());
    vocab_size_ = model_->vocab_size() + static_cast<int64_t>(added_ids.size());  // distinct contents, as HF
  }

  Encoding encode(std::string_view text, bool add_special) const override {
    struct Out {
      int32_t id;
      std::string token;
      size_t start, end;  // original bytes
    };
    std::vector<Out> toks;
    std::vector<AddedSplit> first, second;
    std::vector<NormalizedString> pieces;
    std::vector<Token> model_out;
    added_.split(text, false, first);
    for (const auto& sp : first) {
      if (sp.id >= 0) {
        toks.push_back({sp.id, std::string(text.substr(sp.start, sp.end - sp.start)), sp.start, sp.end});
        continue;
      }
      if (sp.end == sp.start) continue;
      NormalizedString ns(text.substr(sp.start, sp.end - sp.start), sp.start);
      if (normalizer_) normalizer_->normalize(ns);
      if (ns.empty()) continue;
      second.clear();
      added_.split(ns.get(), true, second);
      for (const auto& sp2 : second) {
        if (sp2.end == sp2.start) continue;
        if (sp2.id >= 0) {
          auto r = ns.original_range(sp2.start, sp2.end);
          toks.push_back({sp2.id, ns.get().substr(sp2.start, sp2.end - sp2.start), r.first, r.second});
          continue;
        }
        pieces.clear();
        if (second.size() == 1) pieces.push_back(std::move(ns));
        else pieces.push_back(ns.slice(sp2.start, sp2.end));
        if (pre_tokenizer_) pre_tokenizer_->pre_tokenize(pieces);
        for (const auto& p : pieces) {
          model_out.clear();
          model_->tokenize(p.get(), model_out);
          for (auto& t : model_out) {
            auto r = t.end > t.start ? p.original_range(t.start, t.end)
                                     : std::pair<size_t, size_t>{p.original_start(), p.original_start()};
            toks.push_back({t.id, std::move(t.value), r.first, r.second});
          }
        }
        if (second.size() == 1) break;
      }
    }
    // byte -> char offsets (Python character offsets)
    std::vector<uint32_t> cum(text.size() + 1, 0);
    for (size_t b = 0; b < text.size(); ++b)
      cum[b + 1] = cum[b] + ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80);
    auto to_char = [&](size_t b) -> size_t { return b >= text.size() ? cum[text.size()] : cum[b + 1] - 1; };
    Encoding e;
    e.ids.reserve(toks.size());
    e.tokens.reserve(toks.size());
    e.offsets.reserve(toks.size());
    for (auto& t : toks) {
      e.ids.push_back(t.id);
      e.tokens.push_back(std::move(t.token));
      e.offsets.emplace_back(to_char(t.start), to_char(t.end));
    }
    if (post_processor_) post_processor_->process(e, add_special);
    return e;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      std::optional<std::string_view> tok;
      if (const AddedToken* a = added_.by_id(id)) tok = a->content;
      else tok = model_->id_to_token(id);
      if (!tok) {
        // HF tokenizers' decode drops ids it has no token for (a model's padded vocab_size);
        // a negative id cannot be a token id at all (Python raises OverflowError).
        if (id < 0) throw Error(ErrorKind::kInvalidInput, "token id " + std::to_string(id) + " is negative");
        continue;
      }
      if (skip_special && added_.is_special_content(*tok)) continue;
      tokens.emplace_back(*tok);
    }
    if (!decoder_) {
      std::string r;
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i) r += ' ';
        r += tokens[i];
      }
      return r;
    }
    decoder_->decode_chain(tokens);
    std::string r;
    for (auto& t : tokens) r += t;
    return r;
  }

  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (auto id = added_.by_content(token)) return id;
    return model_->token_to_id(token);
  }
  std::optional<std::string> id_to_token(int32_t id) const override {
    if (const AddedToken* a = added_.by_id(id)) return a->content;
    if (auto t = model_->id_to_token(id)) return std::string(*t);
    return std::nullopt;
  }
  int64_t vocab_size() const override { return vocab_size_; }
  bool is_special(int32_t id) const override {
    auto t = id_to_token(id);
    return t && added_.is_special_content(*t);
  }
  bool is_bpe() const override { return is_bpe_; }
  std::optional<std::string> token_bytes(int32_t id) const override {
    if (added_.by_id(id)) return std::nullopt;
    auto t = model_->id_to_token(id);
    if (!t) return std::nullopt;
    return token_to_bytes(*t, byte_form_);
  }

 private:
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;
  int64_t vocab_size_ = 0;
  bool is_bpe_ = false;
  TokenByteForm byte_form_;
};

}  // namespace

std::shared_ptr<const Backend> make_json_backend(json j, const std::string& source) {
  return make_json_backend(j.dump(), source);  // one loader for all: vocab/merges go through ModelTables
}

std::shared_ptr<const Backend> make_json_backend(const std::string& json_text, const std::string& source) {
  return make_json_backend(std::string_view(json_text), source);
}

std::shared_ptr<const Backend> make_json_backend_from_file(const std::string& path) {
  MappedFile file(path);  // parsed in place: no 33 MB copy for gemma3
  const uint64_t max_bytes = input_limits().tokenizer_max_bytes;
  if (file.size() > max_bytes)
    throw Error(ErrorKind::kInvalidInput, path + " is " + std::to_string(file.size()) + " bytes, over the limit of " +
                                              std::to_string(max_bytes) + " (AUTOLM_MAX_TOKENIZER_BYTES)");
  return make_json_backend(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), path);
}

std::shared_ptr<const Backend> make_json_backend(std::string_view json_text, const std::string& source) {
  ModelTables tables;
  json j = parse_tokenizer_json(json_text, tables, source);
  try {
    return std::make_shared<JsonBackend>(j, tables, source);
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    throw Error(ErrorKind::kInvalidInput, source + ": unexpected JSON value: " + e.what());
  }
}

}  // namespace autolm::tokenizer_detail
