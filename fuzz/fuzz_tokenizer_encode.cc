// Fuzz target: arbitrary text (any bytes) → encode / decode / streaming decode with every real
// tokenizer we have (the bundled demos and ../shared/fixtures/tokenizers: BPE, byte-level BPE,
// Unigram, WordPiece-free SentencePiece-style, added tokens), each loaded once.
#include <cstring>

#include "autolm/tokenizer.h"
#include "fuzz_common.h"

using namespace autolm;

namespace {

const std::vector<std::shared_ptr<const Tokenizer>>& tokenizers() {
  static const std::vector<std::shared_ptr<const Tokenizer>> v = [] {
    std::vector<std::shared_ptr<const Tokenizer>> out;
    std::vector<std::string> dirs = {fuzz::source_dir() + "/models/chat-tiny", fuzz::source_dir() + "/models/t5-numbers"};
    for (const char* name : {"bart-bpe", "gpt2-bpe", "qwen-bpe", "llama-spm", "t5-unigram"})
      dirs.push_back(fuzz::fixtures() + "/tokenizers/" + name);
    for (const auto& d : dirs)
      if (fs::exists(d + "/tokenizer.json"))
        out.push_back(Tokenizer::from_file(d + "/tokenizer.json",
                                           fs::exists(d + "/tokenizer_config.json") ? d + "/tokenizer_config.json" : ""));
    return out;
  }();
  return v;
}

}  // namespace

// Loads the fixed inputs once, before libFuzzer starts timing units (-timeout).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tokenizers();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  for (const auto& tok : tokenizers()) {
    fuzz::guarded([&] {
      Encoding e = tok->encode_full(text, true);
      tok->decode(e.ids, true);
      StreamDecoder stream(*tok, true);
      for (int32_t id : e.ids) stream.put(id);
      stream.finish();
      tok->encode(text, false);
    });
    // The same bytes as token ids (ids past the vocabulary must be refused with an Error).
    std::vector<int32_t> ids(size / 4);
    if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
    fuzz::guarded([&] { tok->decode(ids, false); });
  }
  return 0;
}
