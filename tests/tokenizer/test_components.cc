// Unit tests of the pipeline components that the fixture tokenizers do not exercise
// (WordPiece, BertNormalizer, Split behaviours, Digits, Punctuation, StripAccents …).
// Expected values in component_cases.json were produced by hand with PyPI tokenizers 0.23.2
// (make_component_cases.py); the tests never run Python.
#include <gtest/gtest.h>

#include <fstream>

#include "tokenizer/components.h"
#include "tokenizer/test_util.h"
#include "tokenizer/unicode.h"

namespace autolm::test {
namespace {

using namespace autolm::tokenizer_detail;

const nlohmann::json& cases() {
  static nlohmann::json j = [] {
    std::ifstream in(std::string(AUTOLM_SOURCE_DIR) + "/tests/tokenizer/component_cases.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

size_t char_offset(const std::string& text, size_t byte) { return count_chars(std::string_view(text).substr(0, byte)); }

TEST(Components, Normalizers) {
  for (const auto& n : cases()["normalizers"]) {
    auto norm = make_normalizer(n["config"], "test.json");
    for (const auto& c : n["cases"]) {
      NormalizedString ns(c["text"].get<std::string>(), 0);
      norm->normalize(ns);
      EXPECT_EQ(ns.get(), c["normalized"].get<std::string>()) << n["config"].dump() << " on " << c["text"].dump();
      EXPECT_EQ(ns.alignments().size(), ns.get().size());
    }
  }
}

TEST(Components, PreTokenizers) {
  for (const auto& p : cases()["pre_tokenizers"]) {
    auto pre = make_pre_tokenizer(p["config"], "test.json");
    for (const auto& c : p["cases"]) {
      std::string text = c["text"];
      std::vector<NormalizedString> pieces{NormalizedString(text, 0)};
      pre->pre_tokenize(pieces);
      nlohmann::json got = nlohmann::json::array();
      for (const auto& piece : pieces) {
        auto r = piece.original_range(0, piece.get().size());
        got.push_back({piece.get(), char_offset(text, r.first), char_offset(text, r.second)});
      }
      EXPECT_EQ(got, c["pieces"]) << p["config"].dump() << " on " << c["text"].dump();
    }
  }
}

TEST(Components, Decoders) {
  for (const auto& d : cases()["decoders"]) {
    auto dec = make_decoder(d["config"], "test.json");
    auto toks = d["tokens"].get<std::vector<std::string>>();
    dec->decode_chain(toks);
    std::string joined;
    for (auto& t : toks) joined += t;
    EXPECT_EQ(joined, d["decoded"].get<std::string>()) << d["config"].dump();
  }
}

TEST(Components, FullPipelines) {
  for (const auto& e : cases()["encodings"]) {
    auto tok = tokenizer_from(e["config"]);
    for (const auto& c : e["cases"]) {
      std::string text = c["text"];
      Encoding enc = tok->encode_full(text);
      EXPECT_EQ(enc.ids, c["ids"].get<std::vector<int32_t>>()) << e["config"]["model"]["type"] << " " << c["text"].dump();
      EXPECT_EQ(enc.tokens, c["tokens"].get<std::vector<std::string>>()) << c["text"].dump();
      std::vector<std::pair<size_t, size_t>> offs;
      for (const auto& o : c["offsets"]) offs.emplace_back(o[0].get<size_t>(), o[1].get<size_t>());
      EXPECT_EQ(enc.offsets, offs) << c["text"].dump();
      EXPECT_EQ(tok->decode_raw(enc.ids, false), c["decode"].get<std::string>()) << c["text"].dump();
      EXPECT_EQ(tok->decode_raw(enc.ids, true), c["decode_skip"].get<std::string>()) << c["text"].dump();
    }
  }
}

TEST(Components, WordPieceLongWordIsUnk) {
  nlohmann::json j = {{"model",
                       {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                        {"max_input_chars_per_word", 5}, {"vocab", {{"[UNK]", 0}, {"abc", 1}, {"##def", 2}}}}},
                      {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}};
  auto tok = tokenizer_from(j);
  EXPECT_EQ(tok->encode("abc abcdef abx"), (std::vector<int32_t>{1, 0, 0}));
}

TEST(Components, BpeByteFallbackAndUnk) {
  // byte_fallback: unknown chars become <0xNN> tokens; without it, the fused unk.
  nlohmann::json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"<0xC3>", 4}, {"<0xA9>", 5}};
  nlohmann::json j = {{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}, {"unk_token", "<unk>"},
                                 {"byte_fallback", true}, {"fuse_unk", true}}}};
  auto tok = tokenizer_from(j);
  EXPECT_EQ(tok->encode("abéb"), (std::vector<int32_t>{3, 4, 5, 2}));
  EXPECT_EQ(tok->encode("a\xE2\x82\xAC\xE2\x82\xAC" "b"), (std::vector<int32_t>{1, 0, 2}));  // €€ fused unk
  j["model"]["byte_fallback"] = false;
  EXPECT_EQ(tokenizer_from(j)->encode("ab\xC3\xA9\xC3\xA9"), (std::vector<int32_t>{3, 0}));
}

}  // namespace
}  // namespace autolm::test
