// A SentencePiece model file (ModelProto) read directly: the pieces with their scores and
// types, the trainer settings and the normalizer spec — what transformers' SentencePieceExtractor
// and convert_slow_tokenizer read to build the tokenizers pipeline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autolm::tokenizer_detail {

struct SpmModel {
  enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  enum ModelType { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };
  struct Piece {
    std::string piece;
    float score = 0;
    int type = kNormal;
  };
  std::vector<Piece> pieces;
  int model_type = kUnigram;
  bool byte_fallback = false;
  int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_piece = "<unk>", bos_piece = "<s>", eos_piece = "</s>", pad_piece = "<pad>";
  // normalizer_spec
  std::string normalizer_name;
  std::string precompiled_charsmap;
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

// Throws Error(kInvalidInput) naming `source` for a malformed file.
SpmModel parse_spm_model(std::string_view bytes, const std::string& source);
SpmModel load_spm_model(const std::string& path);

}  // namespace autolm::tokenizer_detail
