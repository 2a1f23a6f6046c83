// The pipeline stages of a tokenizer.json (normalizer, pre-tokenizer, model, post-processor,
// decoder) as small interfaces, and the factories that build them from JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autolm/tokenizer.h"
#include "tokenizer/normalized_string.h"
#include "tokenizer/vocab.h"

namespace autolm::tokenizer_detail {

using json = nlohmann::json;

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(NormalizedString& s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their sub-pieces (empty pieces are dropped).
  virtual void pre_tokenize(std::vector<NormalizedString>& pieces) const = 0;
};

struct Token {
  int32_t id;
  std::string value;
  size_t start, end;  // byte offsets inside the tokenized piece
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(std::string_view piece, std::vector<Token>& out) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string_view> id_to_token(int32_t id) const = 0;  // nullopt when out of range
  virtual int64_t vocab_size() const = 0;
};

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual void process(Encoding& enc, bool add_special_tokens) const = 0;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// The two big parts of a model, "vocab" and "merges", kept out of the JSON DOM: the loader
// (json_loader.cc) streams them into these tables; the model object passed next to them has
// neither key.
struct ModelTables {
  enum class Vocab { kNone, kObject, kArray } vocab = Vocab::kNone;
  StringTable tokens;           // vocab keys (object) or pieces (array), in file order
  std::vector<int32_t> ids;     // object form: the id of each token
  std::vector<double> scores;   // array form (Unigram): the score of each piece
  bool has_merges = false;
  StringTable merges;           // two strings per merge: left, right
};

// Parses tokenizer.json text; malformed JSON or a badly shaped vocab/merges is an Error
// naming `source`.
json parse_tokenizer_json(std::string_view text, ModelTables& tables, const std::string& source);

// `source` (the file name) is used in every error message. A null JSON value gives nullptr.
std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& source);
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& source);
std::unique_ptr<Model> make_model(const json& j, ModelTables& t, const std::string& source);
std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& source);
std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& source);

std::unique_ptr<Model> make_bpe(const json& j, ModelTables& t, const std::string& source);
std::unique_ptr<Model> make_unigram(const json& j, ModelTables& t, const std::string& source);
std::unique_ptr<Model> make_wordpiece(const json& j, ModelTables& t, const std::string& source);
std::unique_ptr<Model> make_wordlevel(const json& j, ModelTables& t, const std::string& source);
std::unique_ptr<Normalizer> make_precompiled(const json& j, const std::string& source);

// GPT-2 byte <-> printable char tables (bytes_to_unicode).
const char32_t* byte_to_char_table();
int char_to_byte(char32_t c);  // -1 when c is not a byte-level char

// JSON helpers whose errors name the file.
const json& jfield(const json& j, const char* key, const std::string& source);
std::string jstring(const json& j, const char* key, const std::string& source, const std::string& fallback);
bool jbool(const json& j, const char* key, bool fallback);
// A token id: an integer in 0..2^31-1 (4294967298 is an error naming `what`, not id 2).
int32_t jtoken_id(const json& v, const std::string& what, const std::string& source);
// Checks that the loader streamed model.vocab in the given form ("vocab": {...} or [...]).
void require_vocab(const json& j, const ModelTables& t, ModelTables::Vocab form, const char* what,
                   const std::string& source);
// One level of a "Sequence" component being built. Sequences nest at most
// kMaxSequenceNesting deep (HF has no limit, real files nest one or two levels): building them
// and running them recurse, so a file nesting them deeper is refused, naming `source`.
constexpr int kMaxSequenceNesting = 16;
class SequenceNesting {
 public:
  SequenceNesting(const char* what, const std::string& source);
  ~SequenceNesting();
  SequenceNesting(const SequenceNesting&) = delete;
  SequenceNesting& operator=(const SequenceNesting&) = delete;
};
[[noreturn]] void unknown_type(const std::string& what, const std::string& type, const std::string& source);

}  // namespace autolm::tokenizer_detail
