// Hostile tokenizer folders (issue #11): deep JSON, nested Sequences, huge or duplicate ids,
// 200k added tokens, pathological words and normalizer rules. Each test writes its own files.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "autolm/error.h"
#include "run_capped.h"
#include "autolm/tokenizer.h"

namespace autolm::test {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("autolm-tok-hostile-" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  return dir.string();
}

std::string write_file(const std::string& dir, const std::string& name, const std::string& content) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no autolm::Error thrown";
  return "";
}

const char* kWordLevel = R"("model": {"type": "WordLevel", "vocab": {"<unk>": 0, "a": 1, "b": 2}, "unk_token": "<unk>"})";

std::string nested(const char* stage, const char* list_key, int depth) {
  std::string open, close;
  for (int i = 0; i < depth; ++i) {
    open += std::string("{\"type\": \"Sequence\", \"") + list_key + "\": [";
    close += "]}";
  }
  return std::string("\"") + stage + "\": " + open + close;
}

TEST(TokenizerHostile, DeeplyNestedJsonIsAnErrorNotAStackOverflow) {
  std::string dir = temp_dir("deep");
  struct Stage {
    const char* stage;
    const char* list;
  } stages[] = {{"normalizer", "normalizers"}, {"pre_tokenizer", "pretokenizers"}, {"decoder", "decoders"},
                {"post_processor", "processors"}};
  for (const auto& s : stages) {
    SCOPED_TRACE(s.stage);
    // 100k levels: the JSON depth limit stops the loader.
    std::string path = write_file(dir, std::string(s.stage) + "_deep.json", "{" + nested(s.stage, s.list, 100000) + ", " + kWordLevel + "}");
    std::string msg = error_of([&] { Tokenizer::from_file(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("nested deeper than"), std::string::npos) << msg;
    // 40 levels fit the JSON limit (128) but not the Sequence limit.
    path = write_file(dir, std::string(s.stage) + "_seq.json", "{" + nested(s.stage, s.list, 40) + ", " + kWordLevel + "}");
    msg = error_of([&] { Tokenizer::from_file(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("Sequence nested deeper than 16"), std::string::npos) << msg;
    // A few levels are fine.
    path = write_file(dir, std::string(s.stage) + "_ok.json", "{" + nested(s.stage, s.list, 3) + ", " + kWordLevel + "}");
    EXPECT_EQ(Tokenizer::from_file(path)->encode("a"), std::vector<int32_t>{1});
  }
  // Deep values anywhere else in the file, and in the JSON strings and configs read next to it.
  std::string deep(100000, '[');
  std::string path = write_file(dir, "deep_value.json", std::string("{\"extra\": ") + deep + ", " + kWordLevel + "}");
  EXPECT_NE(error_of([&] { Tokenizer::from_file(path); }).find("nested deeper than"), std::string::npos);
  std::string good = write_file(dir, "good.json", std::string("{") + kWordLevel + "}");
  std::string cfg = write_file(dir, "tokenizer_config.json", "{\"x\": " + deep + "}");
  EXPECT_NE(error_of([&] { Tokenizer::from_file(good, cfg); }).find(cfg), std::string::npos);
  EXPECT_NE(error_of([&] { Tokenizer::from_json_string(std::string("{") + kWordLevel + "}", "{\"x\": " + deep + "}"); })
                .find("nested deeper than"),
            std::string::npos);
  std::string gpt2 = temp_dir("deep_gpt2");
  write_file(gpt2, "vocab.json", "{\"a\": " + deep + "}");
  write_file(gpt2, "merges.txt", "");
  EXPECT_NE(error_of([&] { AutoTokenizer::from_pretrained(gpt2); }).find("vocab.json"), std::string::npos);
}

TEST(TokenizerHostile, OutOfRangeVocabIdsNameTheFileAndToken) {
  std::string dir = temp_dir("ids");
  struct Case {
    const char* vocab;
    const char* expect;
  } cases[] = {
      {R"({"a": 0, "huge": 2147483647})", "id 2147483647 of token \"huge\" is out of range"},
      {R"({"a": 0, "neg": -1})", "\"neg\""},
      {R"({"a": 0, "wrap": 4294967298})", "\"wrap\""},
      {R"({"a": 0, "gap": 70000})", "id 70000 of token \"gap\""},
      {R"({"a": 0, "b": 0})", "have the same id 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.vocab);
    for (const char* type : {"WordLevel", "WordPiece", "BPE"}) {
      std::string json = std::string(R"({"model": {"type": ")") + type + R"(", "vocab": )" + c.vocab +
                         (std::string(type) == "BPE" ? R"(, "merges": [])" : "") + R"(, "unk_token": "a"}})";
      std::string path = write_file(dir, std::string(type) + ".json", json);
      int code = run_capped([&] { Tokenizer::from_file(path); }, size_t{1} << 30, 120);
      EXPECT_EQ(code, 1) << type;  // an Error, not a 16 GB table
      std::string msg = error_of([&] { Tokenizer::from_file(path); });
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    }
  }
  // Gaps a real vocab has (reserved ids) still load.
  std::string path = write_file(dir, "gaps.json", R"({"model": {"type": "WordLevel", "vocab": {"<unk>": 0, "a": 5, "b": 1000}, "unk_token": "<unk>"}})");
  EXPECT_EQ(Tokenizer::from_file(path)->encode("b"), std::vector<int32_t>{1000});

  // vocab.json of a Marian folder and added_tokens_decoder keys of tokenizer_config.json.
  std::string marian = temp_dir("marian");
  write_file(marian, "vocab.json", R"({"a": 4294967298})");
  write_file(marian, "source.spm", "not a model");
  std::string msg = error_of([&] { AutoTokenizer::from_pretrained(marian); });
  EXPECT_TRUE(msg.find("vocab.json") != std::string::npos || msg.find("source.spm") != std::string::npos) << msg;
}

TEST(TokenizerHostile, TwoHundredThousandAddedTokensLoadInLinearTime) {
  // The duplicate scan was quadratic: 200k added tokens took minutes. ctest's timeout bounds it.
  std::string json = std::string("{") + kWordLevel + ", \"added_tokens\": [";
  for (int i = 0; i < 200000; ++i) {
    if (i) json += ",";
    int n = i % 150000;  // 50k duplicates keep their first id
    json += "{\"id\": " + std::to_string(3 + n) + ", \"content\": \"<tok" + std::to_string(n) +
            ">\", \"special\": " + (i % 2 ? "true" : "false") + "}";
  }
  json += "]}";
  std::string path = write_file(temp_dir("added"), "tokenizer.json", json);
  auto tok = Tokenizer::from_file(path);
  EXPECT_EQ(tok->vocab_size(), 3 + 150000);
  EXPECT_EQ(tok->encode("a<tok149999>b<tok7>"), (std::vector<int32_t>{1, 3 + 149999, 2, 3 + 7}));
}

TEST(TokenizerHostile, PathologicalWordsAreNotQuadratic) {
  std::string dir = temp_dir("words");
  // WordPiece with max_input_chars_per_word raised to a billion, on a 200 kB word: candidates
  // longer than the longest vocab entry are no longer tried (this was cubic).
  std::string wp = write_file(dir, "wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##a": 2, "aa": 3},
      "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 1000000000}})");
  auto ids = Tokenizer::from_file(wp)->encode(std::string(200000, 'a'));
  EXPECT_EQ(ids.size(), 199999u);  // "aa", then "##a" each
  // A 1 MB word with no spaces through byte-level BPE.
  std::string bpe = write_file(dir, "bpe.json", R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
      "model": {"type": "BPE", "vocab": {"a": 0, "aa": 1, "aaaa": 2}, "merges": ["a a", "aa aa"]}})");
  EXPECT_EQ(Tokenizer::from_file(bpe)->encode(std::string(1 << 20, 'a')).size(), size_t{1} << 18);
}

TEST(TokenizerHostile, NormalizerExpansionIsBounded) {
  std::string dir = temp_dir("norm");
  // Every character replaced by 100 kB: 10 kB of text would be 1 GB normalized.
  std::string big(100000, 'x');
  std::string path = write_file(dir, "replace.json", std::string(R"({"normalizer": {"type": "Replace", "pattern": {"String": "a"}, "content": ")") +
                                                         big + "\"}, " + kWordLevel + "}");
  auto tok = Tokenizer::from_file(path);
  int code = run_capped([&] { tok->encode(std::string(10000, 'a')); }, size_t{1} << 30, 120);
  EXPECT_EQ(code, 1);
  std::string msg = error_of([&] { tok->encode(std::string(10000, 'a')); });
  EXPECT_NE(msg.find("more than 64 times"), std::string::npos) << msg;
  // Nested Replaces that double the text each time stop too.
  std::string seq = R"({"normalizer": {"type": "Sequence", "normalizers": [)";
  for (int i = 0; i < 16; ++i) seq += std::string(i ? "," : "") + R"({"type": "Replace", "pattern": {"String": "a"}, "content": "aa"})";
  path = write_file(dir, "doubling.json", seq + "]}, " + kWordLevel + "}");
  EXPECT_NE(error_of([&] { Tokenizer::from_file(path)->encode(std::string(1000, 'a')); }).find("more than 64 times"),
            std::string::npos);
  // Ordinary growth (a few bytes per character) is untouched.
  path = write_file(dir, "ok.json", std::string(R"({"normalizer": {"type": "Replace", "pattern": {"String": "a"}, "content": "ab"}, )") +
                                        kWordLevel + "}");
  EXPECT_EQ(Tokenizer::from_file(path)->encode("a").size(), 1u);
}

}  // namespace
}  // namespace autolm::test
