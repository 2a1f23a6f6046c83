// Bad input: unknown component types, malformed files, out-of-range ids, invalid UTF-8 text.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include <fstream>

#include "autolm/error.h"
#include "tokenizer/test_util.h"

namespace autolm::test {
namespace {

std::string write_temp(const std::string& name, const std::string& content) {
  auto dir = std::filesystem::temp_directory_path() / ("autolm-tok-errors-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream(path) << content;
  return path;
}

template <typename F>
Error expect_error(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no autolm::Error thrown";
  return Error(ErrorKind::kInternal, "");
}

const char* kModel = R"("model": {"type": "WordLevel", "vocab": {"<unk>": 0, "a": 1}, "unk_token": "<unk>"})";

TEST(TokenizerErrors, UnknownComponentTypeNamesTypeAndFile) {
  for (std::string stage : {"normalizer", "pre_tokenizer", "post_processor", "decoder"}) {
    std::string path = write_temp("unknown_" + stage + ".json",
                                  "{\"" + stage + "\": {\"type\": \"Frobnicate\"}, " + kModel + "}");
    Error e = expect_error([&] { Tokenizer::from_file(path); });
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("Frobnicate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::string path = write_temp("unknown_model.json", R"({"model": {"type": "Quantum", "vocab": {}}})");
  Error e = expect_error([&] { Tokenizer::from_file(path); });
  EXPECT_NE(std::string(e.what()).find("Quantum"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
}

TEST(TokenizerErrors, MalformedFilesNameTheFile) {
  std::string path = write_temp("malformed.json", "{\"model\": {\"type\": \"BPE\", ");
  Error e = expect_error([&] { Tokenizer::from_file(path); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();

  std::string wrong = write_temp("wrong_type.json", R"({"model": {"type": "BPE", "vocab": [1, 2], "merges": []}})");
  e = expect_error([&] { Tokenizer::from_file(wrong); });
  EXPECT_NE(std::string(e.what()).find(wrong), std::string::npos) << e.what();

  std::string bad_merge = write_temp("bad_merge.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})");
  e = expect_error([&] { Tokenizer::from_file(bad_merge); });
  EXPECT_NE(std::string(e.what()).find(bad_merge), std::string::npos) << e.what();

  std::string bad_regex = write_temp("bad_regex.json", std::string(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}, )") + kModel + "}");
  e = expect_error([&] { Tokenizer::from_file(bad_regex); });
  EXPECT_NE(std::string(e.what()).find(bad_regex), std::string::npos) << e.what();

  std::string good = write_temp("good.json", std::string("{") + kModel + "}");
  std::string bad_cfg = write_temp("tokenizer_config.json", "{not json");
  e = expect_error([&] { Tokenizer::from_file(good, bad_cfg); });
  EXPECT_NE(std::string(e.what()).find(bad_cfg), std::string::npos) << e.what();

  e = expect_error([&] { Tokenizer::from_file("/nonexistent/tokenizer.json"); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  e = expect_error([&] { AutoTokenizer::from_pretrained("/nonexistent-dir"); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  e = expect_error([&] { Tokenizer::from_sentencepiece(good); });
  EXPECT_NE(std::string(e.what()).find(good), std::string::npos) << e.what();
}

// Policy (transformers): ids past the vocabulary (a model's padded vocab_size) are skipped by
// decode and the stream decoder; a negative id is an input error naming it. id_to_token still
// refuses an id it has no token for.
TEST(TokenizerErrors, IdsPastTheVocabularyAreSkipped) {
  auto tok = load_fixture_tokenizer("gpt2-bpe");
  std::vector<int32_t> ids{10, 987654};
  std::vector<int32_t> known{10};
  EXPECT_EQ(tok->decode(ids), tok->decode(known));
  std::vector<int32_t> negative{10, -7};
  Error e = expect_error([&] { tok->decode(negative); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(std::string(e.what()).find("-7"), std::string::npos) << e.what();
  e = expect_error([&] { tok->id_to_token(-3); });
  EXPECT_NE(std::string(e.what()).find("-3"), std::string::npos) << e.what();
  e = expect_error([&] { tok->id_to_token(987654); });
  EXPECT_NE(std::string(e.what()).find("987654"), std::string::npos) << e.what();
  StreamDecoder s(*tok, false);
  EXPECT_EQ(s.put(987654), "");
  EXPECT_THROW(s.put(-1), Error);
}

// Policy: invalid UTF-8 is replaced by U+FFFD (one per maximal invalid subpart, as Python's
// bytes.decode(errors="replace")) before tokenizing; offsets refer to the repaired text.
TEST(TokenizerErrors, InvalidUtf8IsReplaced) {
  for (std::string name : {"gpt2-bpe", "llama2", "t5-unigram", "qwen3"}) {
    if (!have_tokenizer(name)) continue;  // llama2: only with ../shared/fixtures
    auto tok = load_fixture_tokenizer(name);
    EXPECT_EQ(tok->encode_full("a\xFF" "b"), tok->encode_full("a\xEF\xBF\xBD" "b")) << name;
    EXPECT_EQ(tok->encode("x\xE2\x82"), tok->encode("x\xEF\xBF\xBD")) << name;           // truncated €
    EXPECT_EQ(tok->encode("\xED\xA0\x80!"), tok->encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!")) << name;  // surrogate
    EXPECT_EQ(tok->encode("\xC0\xAF"), tok->encode("\xEF\xBF\xBD\xEF\xBF\xBD")) << name;  // overlong
  }
}

}  // namespace
}  // namespace autolm::test
