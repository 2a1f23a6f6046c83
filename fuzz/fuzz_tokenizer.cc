// Fuzz target: tokenizer.json text → Tokenizer::from_json_string, then encode / decode /
// streaming decode of fixed texts (ASCII, accents, CJK, emoji, invalid UTF-8, special-token
// look-alikes) and of ids around the vocabulary's edges.
#include "autolm/tokenizer.h"
#include "fuzz_common.h"

using namespace autolm;

namespace {

const std::vector<std::string>& texts() {
  static const std::vector<std::string> v = {
      "Hello, world! 123 foo--bar  baz",
      " leading and trailing spaces \t\n",
      "caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xe2\x96\x81x",
      "\xff\xfe invalid \xc3 utf-8 \xed\xa0\x80",
      "<s> </s> <unk> <pad> <|endoftext|> <|im_start|>user\n[INST]",
      std::string("nul\0byte", 8),
      "",
  };
  return v;
}

void exercise(const Tokenizer& tok) {
  const int64_t vocab = tok.vocab_size();
  for (const auto& text : texts()) {
    fuzz::guarded([&] {
      Encoding e = tok.encode_full(text, true);
      tok.decode(e.ids, false);
      tok.decode(e.ids, true);
      tok.decode_raw(e.ids, false);
      StreamDecoder stream(tok, false);
      for (int32_t id : e.ids) stream.put(id);
      stream.finish();
    });
    fuzz::guarded([&] { tok.encode(text, false); });
  }
  // Ids at and past the edges: out-of-range ones must be refused with an Error.
  for (int64_t id : {int64_t(-1), int64_t(0), vocab - 1, vocab, int64_t(INT32_MAX)}) {
    fuzz::guarded([&] {
      const int32_t ids[1] = {int32_t(id)};
      tok.decode(ids, false);
    });
    fuzz::guarded([&] { tok.id_to_token(int32_t(id)); });
  }
  for (const char* t : {"<s>", "</s>", "<unk>", "a", ""}) fuzz::guarded([&] { tok.token_to_id(t); });
  fuzz::guarded([&] { tok.bos_token_id(), tok.eos_token_id(), tok.pad_token_id(), tok.unk_token_id(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::guarded([&] {
    auto tok = Tokenizer::from_json_string(std::string(fuzz::as_text(data, size)), "", "tokenizer.json");
    exercise(*tok);
  });
  return 0;
}
