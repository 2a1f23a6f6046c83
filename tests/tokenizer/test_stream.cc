// StreamDecoder: the concatenated chunks equal decode(), and no chunk is invalid UTF-8, on
// byte-fallback (llama2, gemma3, llama-spm) and byte-level (qwen3, llama3, gpt2-bpe) tokenizers.
#include <gtest/gtest.h>

#include <iostream>

#include "tokenizer/test_util.h"
#include "tokenizer/unicode.h"

namespace autolm::test {
namespace {

TEST(StreamDecoder, ConcatenationEqualsDecodeAndChunksAreValidUtf8) {
  for (std::string name : {"llama2", "gemma3", "llama-spm", "qwen3", "llama3", "gpt2-bpe", "t5-unigram", "bart-bpe"}) {
    if (!have_tokenizer(name)) {
      std::cerr << "[ note ] " << name << " skipped: not in the repository (licence) and ../shared/fixtures is absent\n";
      continue;
    }
    auto tok = load_fixture_tokenizer(name);
    auto ref = load_ref(name);
    int held_back = 0;
    for (const auto& c : ref["cases"]) {
      auto ids = c["with_special"]["ids"].get<std::vector<int32_t>>();
      for (bool skip : {false, true}) {
        StreamDecoder s(*tok, skip);
        std::string all;
        for (int32_t id : ids) {
          std::string chunk = s.put(id);
          EXPECT_TRUE(tokenizer_detail::is_valid_utf8(chunk)) << name << " " << c["text"].dump();
          held_back += chunk.empty();
          all += chunk;
        }
        std::string tail = s.finish();
        EXPECT_TRUE(tokenizer_detail::is_valid_utf8(tail));
        all += tail;
        EXPECT_EQ(all, tok->decode(ids, skip, false)) << name << " skip=" << skip << " " << c["text"].dump();
      }
    }
    EXPECT_GT(held_back, 0) << name;
  }
}

TEST(StreamDecoder, HoldsBackPartialCharacters) {
  // llama2 byte-fallback: 👋 is <0xF0><0x9F><0x91><0x8B>; nothing comes out until the last byte.
  if (!have_tokenizer("llama2")) GTEST_SKIP() << "llama2 is not in the repository (licence) and ../shared/fixtures is absent";
  auto tok = load_fixture_tokenizer("llama2");
  auto ids = tok->encode("👋", false);
  ASSERT_GE(ids.size(), 4u);
  StreamDecoder s(*tok, true);
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string chunk = s.put(ids[i]);
    if (i + 1 < ids.size()) {
      EXPECT_EQ(chunk.find("\xF0"), std::string::npos);
    }
    out += chunk;
  }
  out += s.finish();
  EXPECT_EQ(out, tok->decode(ids, true, false));
  EXPECT_NE(out.find("👋"), std::string::npos);
}

}  // namespace
}  // namespace autolm::test
