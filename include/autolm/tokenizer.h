// Public tokenizer API: Hugging Face tokenizer folders (tokenizer.json, SentencePiece models,
// GPT-2 vocab.json + merges.txt) loaded into a native pipeline that reproduces HF `tokenizers`.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
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

namespace tokenizer_detail {
class Backend;  // the tokenizer.json pipeline or the SentencePiece library
}

class Tokenizer {
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

  Encoding encode_full(std::string_view text, bool add_special_tokens = true) const;
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

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::string id_to_token(int32_t id) const;  // throws for an out-of-range id
  int64_t vocab_size() const;                 // including added tokens
  bool is_special(int32_t id) const;  // transformers' all_special_ids membership
  // For constrained decoding (autolm/structured_output.h): per id in [0, vocab_size()), the
  // bytes the token stands for before decoding joins them into text (ByteLevel characters mapped
  // back to bytes, SentencePiece "▁" → space, <0xNN> → that byte); nullopt for special and
  // added tokens.
  std::vector<std::optional<std::string>> token_bytes() const;

  std::optional<std::string> bos_token() const { return bos_; }
  std::optional<std::string> eos_token() const { return eos_; }
  std::optional<std::string> pad_token() const { return pad_; }
  std::optional<std::string> unk_token() const { return unk_; }
  std::optional<int32_t> bos_token_id() const;
  std::optional<int32_t> eos_token_id() const;
  std::optional<int32_t> pad_token_id() const;
  std::optional<int32_t> unk_token_id() const;
  bool add_bos_token() const { return add_bos_; }
  bool add_eos_token() const { return add_eos_; }
  bool clean_up_tokenization_spaces() const { return clean_up_; }

  // transformers' apply_chat_template(messages, tokenize=False, ...): the folder's chat
  // template (chat_template.jinja, tokenizer_config.json "chat_template", chat_template.json),
  // rendered with this tokenizer's special-token variables. Error if the folder has none.
  std::string apply_chat_template(const nlohmann::ordered_json& messages,
                                  const ChatTemplateOptions& options = {}) const;
  // The same rendering tokenized as transformers does it (no special tokens added: the
  // template writes them itself).
  std::vector<int32_t> apply_chat_template_ids(const nlohmann::ordered_json& messages,
                                               const ChatTemplateOptions& options = {}) const;

  int64_t model_max_length() const { return model_max_length_; }
  std::string padding_side() const { return padding_side_; }
  std::string truncation_side() const { return truncation_side_; }
  const nlohmann::json& tokenizer_config() const { return config_; }
  // transformers' tokenizer class ("Fast" dropped): tokenizer_config.json's tokenizer_class, else
  // inferred from config.json's model_type by AutoTokenizer; "" when neither names one.
  const std::string& tokenizer_class() const { return class_; }
  const std::string& dir() const { return dir_; }

  // Internal: used by the loaders and StreamDecoder.
  Tokenizer(std::shared_ptr<const tokenizer_detail::Backend> backend, nlohmann::json config, std::string dir,
            const std::string& config_source);
  const tokenizer_detail::Backend& backend() const { return *backend_; }

 private:
  std::shared_ptr<const tokenizer_detail::Backend> backend_;
  nlohmann::json config_ = nlohmann::json::object();
  std::string dir_;
  std::optional<std::string> bos_, eos_, pad_, unk_;
  std::vector<int32_t> config_special_ids_;  // sorted: special tokens named by tokenizer_config
  bool add_bos_ = false, add_eos_ = false, clean_up_ = false, clean_up_bpe_ = false;
  std::string class_;
  int64_t model_max_length_ = INT64_MAX;
  std::string padding_side_ = "right", truncation_side_ = "right";
};

struct AutoTokenizer {
  // A model or tokenizer folder: tokenizer.json, else spiece.model / tokenizer.model,
  // Marian source.spm + vocab.json, else GPT-2 vocab.json + merges.txt. The class comes from
  // tokenizer_config.json, else config.json's model_type (docs/TOKENIZER.md).
  static std::shared_ptr<const Tokenizer> from_pretrained(const std::string& dir);
};

// Incremental detokenizer: put() returns the text that the new id adds, holding back output
// until it is valid, complete UTF-8 (like HF DecodeStream / TextStreamer). The concatenation
// of every put() and finish() equals tokenizer.decode(all ids, skip_special_tokens, false).
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);
  std::string put(int32_t id);
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::vector<int32_t> ids_;  // context ids + ids not yet emitted
  size_t prefix_ids_ = 0;     // ids_[0, prefix_ids_) are context whose text was emitted
  std::string prefix_text_;   // decode of the context ids
};

}  // namespace autolm
