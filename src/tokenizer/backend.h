// The engine behind a Tokenizer: the tokenizer.json pipeline or the SentencePiece library.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "autolm/tokenizer.h"

namespace autolm::tokenizer_detail {

class Backend {
 public:
  virtual ~Backend() = default;
  // `text` is valid UTF-8 (the Tokenizer sanitizes it first).
  virtual Encoding encode(std::string_view text, bool add_special_tokens) const = 0;
  // tokenizers' decode (no clean-up): ids without a token (past the vocabulary) are skipped;
  // throws Error for a negative id (and, MarianTokenizer, where transformers raises).
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual bool is_special(int32_t id) const = 0;
  // The model is BPE (transformers 5.24 ignores clean_up_tokenization_spaces for those).
  virtual bool is_bpe() const { return false; }
  // The bytes token `id` stands for (Tokenizer::token_bytes); nullopt for added / special tokens
  // and ids without a token. Default (token_bytes.cc): SentencePiece pieces.
  virtual std::optional<std::string> token_bytes(int32_t id) const;
};

// Builders (tokenizer_json.cc, sentencepiece_tokenizer.cc, gpt2_files.cc).
std::shared_ptr<const Backend> make_json_backend(std::string_view json_text, const std::string& source);
std::shared_ptr<const Backend> make_json_backend(const std::string& json_text, const std::string& source);
std::shared_ptr<const Backend> make_json_backend_from_file(const std::string& path);
std::shared_ptr<const Backend> make_json_backend(nlohmann::json j, const std::string& source);
// SentencePiece model file; `config` is tokenizer_config.json (may be an empty object).
// Marian: vocab_json_path names the vocab.json whose ids replace the model's.
std::shared_ptr<const Backend> make_sentencepiece_backend(const std::string& model_path, const nlohmann::json& config,
                                                          const std::string& vocab_json_path = "");
// The tokenizers pipeline transformers converts a SentencePiece model into for tokenizer class
// `cls` (spm_convert.cc); nullptr for classes whose conversion is not implemented.
std::shared_ptr<const Backend> make_converted_spm_backend(const std::string& model_path, const nlohmann::json& config,
                                                          const std::string& cls);

}  // namespace autolm::tokenizer_detail
