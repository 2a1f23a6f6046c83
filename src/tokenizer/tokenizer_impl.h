// Tokenizer's private part (the pimpl behind include/autolm/tokenizer.h): the backend pipeline
// and what tokenizer_config.json says about special tokens, clean-up and limits.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autolm/tokenizer.h"
#include "tokenizer/backend.h"

namespace autolm {

struct Tokenizer::Impl {
  // Reads tokenizer_config.json's settings (`config`: an object, or anything else for none);
  // errors name `config_source`.
  Impl(std::shared_ptr<const tokenizer_detail::Backend> backend, Json config, std::string dir,
       const std::string& config_source);

  std::shared_ptr<const tokenizer_detail::Backend> backend_;
  Json config_ = Json::object();
  std::string dir_;
  std::optional<std::string> bos_, eos_, pad_, unk_;
  std::vector<int32_t> config_special_ids_;  // sorted: special tokens named by tokenizer_config
  bool add_bos_ = false, add_eos_ = false, clean_up_ = false, clean_up_bpe_ = false;
  std::string class_;
  int64_t model_max_length_ = INT64_MAX;
  std::string padding_side_ = "right", truncation_side_ = "right";
};

}  // namespace autolm
