// Public tokenizer API: Hugging Face tokenizer folders (tokenizer.json, SentencePiece models,
// GPT-2 vocab.json + merges.txt) loaded into a native pipeline that reproduces HF `tokenizers`.
#pragma once

#include <cstdint>
#include <memory>
#include "autolm/export.h"
#include "autolm/json.h"
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autolm/chat.h"

namespace autolm {

// One encoded text. offsets are Python character (code point) offsets into the input text
// (after invalid UTF-8 has been replaced by U+FFFD, see docs/TOKENIZER.md).
struct Encoding {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<size_t, size_t>> offsets;
  bool operator==(const Encoding&) const = default;
};

class AUTOLM_API Tokenizer {
 public:
  // A tokenizer.json (plus an optional tokenizer_config.json; "" = none).
  static std::shared_ptr<const Tokenizer> from_file(const std::string& tokenizer_json_path,
                                                    const std::string& tokenizer_config_path = "");
  // Same, from in-memory JSON text; `source` names it in errors.
  static std::shared_ptr<const Tokenizer> from_json_string(const std::string& tokenizer_json,
                                                           const std::string& tokenizer_config_json = "",
                                                           const std::string& source = "tokenizer.json");

  // A SentencePiece model through the SentencePiece library (AutoTokenizer converts Llama / T5
  // models into the tokenizers pipeline instead, as transformers does; Marian and other classes
  // use this); Marian: vocab_json_path gives the ids.
  static std::shared_ptr<const Tokenizer> from_sentencepiece(const std::string& model_path,
                                                             const std::string& tokenizer_config_path = "",
                                                             const std::string& vocab_json_path = "");

  // transformers' tokenizer(text): ids with their token strings and character offsets;
  // add_special_tokens adds what the post-processor adds (BOS, EOS, ...).
  Encoding encode_full(std::string_view text, bool add_special_tokens = true) const;
  // The ids of encode_full().
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // transformers' tokenizer.decode: ids the tokenizer has no token for (a model's padded
  // vocab_size) are skipped; clean_up_tokenization_spaces from tokenizer_config unless
  // overridden, ignored for BPE models as transformers 5.24 does; the class's own decoding
  // (CLIPTokenizer, MarianTokenizer). Throws Error(kInvalidInput) for a negative id.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false,
                     std::optional<bool> clean_up_tokenization_spaces = std::nullopt) const;

  // HF tokenizers' Tokenizer.decode: no clean-up, and only the added tokens flagged "special"
  // in tokenizer.json are skipped (decode() also skips tokenizer_config's special tokens).
  std::string decode_raw(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // The id of a token string (added tokens included); nullopt if the vocabulary has none.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // throws for an out-of-range id
  int64_t vocab_size() const;                 // including added tokens
  bool is_special(int32_t id) const;  // transformers' all_special_ids membership
  // For constrained decoding (autolm/structured_output.h): per id in [0, vocab_size()), the
  // bytes the token stands for before decoding joins them into text (ByteLevel characters mapped
  // back to bytes, SentencePiece "▁" → space, <0xNN> → that byte); nullopt for special and
  // added tokens.
  std::vector<std::optional<std::string>> token_bytes() const;

  // The special tokens tokenizer_config.json names (nullopt when unset), their ids, and its
  // add_bos_token / add_eos_token / clean_up_tokenization_spaces flags.
  std::optional<std::string> bos_token() const;
  std::optional<std::string> eos_token() const;
  std::optional<std::string> pad_token() const;
  std::optional<std::string> unk_token() const;
  std::optional<int32_t> bos_token_id() const;
  std::optional<int32_t> eos_token_id() const;
  std::optional<int32_t> pad_token_id() const;
  std::optional<int32_t> unk_token_id() const;
  bool add_bos_token() const;
  bool add_eos_token() const;
  bool clean_up_tokenization_spaces() const;

  // transformers' apply_chat_template(messages, tokenize=False, ...): the folder's chat
  // template (chat_template.jinja, tokenizer_config.json "chat_template", chat_template.json),
  // rendered with this tokenizer's special-token variables. Error if the folder has none.
  std::string apply_chat_template(const OrderedJson& messages,
                                  const ChatTemplateOptions& options = {}) const;
  // The same rendering tokenized as transformers does it (no special tokens added: the
  // template writes them itself).
  std::vector<int32_t> apply_chat_template_ids(const OrderedJson& messages,
                                               const ChatTemplateOptions& options = {}) const;

  // tokenizer_config.json's model_max_length, padding_side and truncation_side (HF defaults when
  // absent), the whole tokenizer_config.json object, and the folder ("" for in-memory JSON).
  int64_t model_max_length() const;
  std::string padding_side() const;
  std::string truncation_side() const;
  const Json& tokenizer_config() const;
  // transformers' tokenizer class ("Fast" dropped): tokenizer_config.json's tokenizer_class, else
  // inferred from config.json's model_type by AutoTokenizer; "" when neither names one.
  const std::string& tokenizer_class() const;
  const std::string& dir() const;

  // The pipeline (tokenizer.json components or the SentencePiece library) and the settings read
  // from tokenizer_config.json: src/tokenizer/tokenizer_impl.h.
  struct Impl;

 private:
  friend struct AutoTokenizer;
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

struct AUTOLM_API AutoTokenizer {
  // A model or tokenizer folder: tokenizer.json, else spiece.model / tokenizer.model,
  // Marian source.spm + vocab.json, else GPT-2 vocab.json + merges.txt. The class comes from
  // tokenizer_config.json, else config.json's model_type (docs/TOKENIZER.md).
  static std::shared_ptr<const Tokenizer> from_pretrained(const std::string& dir);
};

// Incremental detokenizer: put() returns the text that the new id adds, holding back output
// until it is valid, complete UTF-8 (like HF DecodeStream / TextStreamer). The concatenation
// of every put() and finish() equals tokenizer.decode(all ids, skip_special_tokens, false).
class AUTOLM_API StreamDecoder {
 public:
  // `tokenizer` must outlive the decoder.
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);
  // Adds one id; returns the text it completes ("" while a character is still incomplete).
  std::string put(int32_t id);
  // The text still held back (replacement characters for an incomplete UTF-8 tail).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // context ids + ids not yet emitted
  size_t prefix_ids_ = 0;     // ids_[0, prefix_ids_) are context whose text was emitted
  std::string prefix_text_;   // decode of the context ids
};

}  // namespace autolm
