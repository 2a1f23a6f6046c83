// The SentencePiece-library path (folders without tokenizer.json) against the tokenizer.json
// pipeline on the same models (t5-unigram spiece.model, llama-spm tokenizer.model), and the
// GPT-2 vocab.json + merges.txt path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <unistd.h>

#include "tokenizer/test_util.h"

namespace autolm::test {
namespace {

TEST(SentencePiece, SameIdsAsTokenizerJson) {
  struct Case {
    std::string name, model;
  };
  for (const Case& k : {Case{"t5-unigram", "spiece.model"}, Case{"llama-spm", "tokenizer.model"}}) {
    std::string dir = fixtures_dir() + "/tokenizers/" + k.name;
    auto spm = Tokenizer::from_sentencepiece(dir + "/" + k.model, dir + "/tokenizer_config.json");
    auto ref = load_ref(k.name);
    int compared = 0;
    for (const auto& c : ref["cases"]) {
      std::string text = c["text"];
      // Known, documented differences (docs/TOKENIZER.md): SentencePiece re-adds its dummy
      // prefix after every special token, and t5's Precompiled/WhitespaceSplit pipeline
      // differs from sentencepiece's own normalizer on a few exotic characters.
      // llama-spm: HF's BPE (merge ranks, Metaspace prepend_scheme "first") and sentencepiece's
      // BPE (piece scores, dummy prefix) split leading whitespace runs differently.
      if (text.find('<') != std::string::npos) continue;
      if (k.name == "llama-spm" && !text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) continue;
      auto expect = c["with_special"]["ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(spm->encode(text), expect) << k.name << " " << c["text"].dump();
      // Decoding agrees except where unknown pieces appear (sentencepiece renders them " ⁇ ").
      bool has_unk = std::find(expect.begin(), expect.end(), *spm->unk_token_id()) != expect.end();
      if (!has_unk) {
        EXPECT_EQ(spm->decode(expect, true), c["decode_skip_special"].get<std::string>()) << k.name << " " << c["text"].dump();
      }
      ++compared;
    }
    EXPECT_GT(compared, 40);
  }
}

TEST(SentencePiece, SpecialTokensAndConfig) {
  std::string dir = fixtures_dir() + "/tokenizers/t5-unigram";
  auto spm = Tokenizer::from_sentencepiece(dir + "/spiece.model", dir + "/tokenizer_config.json");
  auto json = load_fixture_tokenizer("t5-unigram");
  EXPECT_EQ(spm->token_to_id("<extra_id_0>"), json->token_to_id("<extra_id_0>"));
  EXPECT_EQ(spm->token_to_id("<extra_id_99>"), json->token_to_id("<extra_id_99>"));
  EXPECT_EQ(spm->eos_token_id(), json->eos_token_id());
  EXPECT_EQ(spm->vocab_size(), json->vocab_size());
  std::string text = "Hello <extra_id_0> world</s>";
  EXPECT_EQ(spm->encode(text), json->encode(text));
  EXPECT_TRUE(spm->is_special(*spm->eos_token_id()));
}

TEST(Gpt2Files, VocabAndMergesFolder) {
  // tokenizers/gpt2 has an (empty-model) tokenizer.json; the vocab.json + merges.txt path is
  // checked on a copy without it against known GPT-2 ids.
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("autolm-tok-gpt2-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string src = fixtures_dir() + "/tokenizers/gpt2/";
  for (const char* f : {"vocab.json", "merges.txt", "tokenizer_config.json"})
    fs::copy_file(src + f, dir / f, fs::copy_options::overwrite_existing);
  auto tok = AutoTokenizer::from_pretrained(dir.string());
  // GPT-2: "Hello world" = [15496, 995]; "<|endoftext|>" = 50256.
  EXPECT_EQ(tok->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tok->encode("Hello world<|endoftext|>"), (std::vector<int32_t>{15496, 995, 50256}));
  EXPECT_EQ(tok->vocab_size(), 50257);
  std::vector<int32_t> ids{15496, 995, 50256};
  EXPECT_EQ(tok->decode(ids), "Hello world<|endoftext|>");
  EXPECT_EQ(tok->decode(ids, true), "Hello world");
  EXPECT_EQ(tok->eos_token_id(), 50256);
  fs::remove_all(dir);
}

TEST(AutoTokenizer, ModelFoldersLoad) {
  for (std::string sub : {"models/t5-tiny", "models/llama-tiny", "models/bart-tiny", "demo/t5-numbers", "demo/chat-tiny"}) {
    auto tok = AutoTokenizer::from_pretrained(fixtures_dir() + "/" + sub);
    EXPECT_GT(tok->vocab_size(), 0) << sub;
    EXPECT_FALSE(tok->encode("Hello world").empty()) << sub;
  }
}

}  // namespace
}  // namespace autolm::test
