// The behaviour transformers' tokenizer classes layer over tokenizer.json / tokenizer.model, as
// AutoTokenizer.from_pretrained(folder) shows it: ids with and without special tokens, decode
// (clean-up, class-specific joining), and ids past the tokenizer's vocabulary (padded model
// vocabularies). References: tests/data/make_tokenizer_class_refs.py (transformers 5.24.0).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "autolm/error.h"
#include "fixture_paths.h"
#include "tokenizer/test_util.h"

namespace autolm::test {
namespace {
namespace fs = std::filesystem;

const std::vector<std::string> kNames = {"bert-base-uncased", "clip-vit-base-patch32", "gpt2-cleanup", "llama-spm",
                                         "marian-tiny",       "mistral-v0.3-spm",      "pegasus-tiny", "t5-spm"};

std::string classes_dir() { return fixtures() + "/../tokenizer_classes"; }

// A temporary copy of tokenizer_classes/<name> with the .gz files unpacked.
std::string unpacked(const std::string& name) {
  fs::path out = fs::temp_directory_path() / ("autolm-tok-classes-" + std::to_string(::getuid()) + "-" +
                                              std::to_string(::getpid())) / name;
  if (fs::exists(out)) return out.string();
  fs::create_directories(out);
  for (const auto& e : fs::directory_iterator(classes_dir() + "/" + name)) {
    std::string f = e.path().filename().string();
    if (f.size() > 3 && f.compare(f.size() - 3, 3, ".gz") == 0) {
      gzFile g = gzopen(e.path().c_str(), "rb");
      if (!g) throw std::runtime_error("cannot open " + e.path().string());
      std::ofstream o(out / f.substr(0, f.size() - 3), std::ios::binary);
      char buf[1 << 16];
      int n;
      while ((n = gzread(g, buf, sizeof buf)) > 0) o.write(buf, n);
      gzclose(g);
      if (n < 0) throw std::runtime_error("gunzip failed for " + e.path().string());
    } else {
      fs::copy_file(e.path(), out / f, fs::copy_options::overwrite_existing);
    }
  }
  return out.string();
}

nlohmann::json ref(const std::string& name) {
  std::ifstream in(classes_dir() + "/refs/" + name + ".json");
  if (!in) throw std::runtime_error("missing ref " + name);
  return nlohmann::json::parse(in);
}

std::string show(const std::string& s) { return nlohmann::json(s).dump(); }

class Classes : public ::testing::TestWithParam<std::string> {};

TEST_P(Classes, EncodeDecodeAsTransformers) {
  const std::string name = GetParam();
  auto tok = AutoTokenizer::from_pretrained(unpacked(name));
  auto r = ref(name);
  int failures = 0;
  for (const auto& c : r["cases"]) {
    const std::string text = c["text"];
    auto ids = c["ids"].get<std::vector<int32_t>>();
    auto got = tok->encode(text, true);
    auto got_ns = tok->encode(text, false);
    EXPECT_EQ(got, ids) << name << " text=" << show(text);
    EXPECT_EQ(got_ns, c["ids_no_special"].get<std::vector<int32_t>>()) << name << " text=" << show(text);
    std::string d = tok->decode(ids, false), ds = tok->decode(ids, true), dn = tok->decode(ids, false, false);
    EXPECT_EQ(d, c["decode"].get<std::string>()) << name << " text=" << show(text);
    EXPECT_EQ(ds, c["decode_skip_special"].get<std::string>()) << name << " text=" << show(text);
    EXPECT_EQ(dn, c["decode_no_cleanup"].get<std::string>()) << name << " text=" << show(text);
    failures += got != ids || d != c["decode"] || ds != c["decode_skip_special"];
    if (failures > 8) FAIL() << "too many mismatches for " << name;
  }
}

// Ids the tokenizer does not know (a model's padded vocab_size): skipped as transformers does,
// or an error where transformers raises (MarianTokenizer); the streaming detokenizer agrees.
TEST_P(Classes, IdsPastTheVocabulary) {
  const std::string name = GetParam();
  auto tok = AutoTokenizer::from_pretrained(unpacked(name));
  auto r = ref(name);
  for (const auto& p : r["padded"]) {
    auto ids = p["ids"].get<std::vector<int32_t>>();
    for (bool skip : {false, true}) {
      const auto& want = p[skip ? "decode_skip_special" : "decode"];
      if (want.is_object()) {
        EXPECT_THROW(tok->decode(ids, skip), Error) << name << " ids=" << p["ids"].dump();
        continue;
      }
      EXPECT_EQ(tok->decode(ids, skip), want.get<std::string>()) << name << " ids=" << p["ids"].dump();
      StreamDecoder sd(*tok, skip);
      std::string streamed;
      for (int32_t id : ids) streamed += sd.put(id);
      streamed += sd.finish();
      EXPECT_EQ(streamed, tok->decode(ids, skip, false)) << name << " ids=" << p["ids"].dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, Classes, ::testing::ValuesIn(kNames), [](const auto& info) {
  std::string n = info.param;
  for (auto& ch : n)
    if (ch == '-' || ch == '.') ch = '_';
  return n;
});

// Tokenizer::from_file with a tokenizer_config.json naming PegasusTokenizer builds the same
// pipeline as AutoTokenizer.
TEST(Classes, PegasusFromFile) {
  std::string dir = unpacked("pegasus-tiny");
  auto tok = Tokenizer::from_file(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  const auto r = ref("pegasus-tiny");  // held: a range-for over a temporary's member dangles
  for (const auto& c : r["cases"])
    EXPECT_EQ(tok->encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int32_t>>()) << show(c["text"]);
}

TEST(Classes, NegativeIdsAreInputErrors) {
  auto tok = AutoTokenizer::from_pretrained(unpacked("bert-base-uncased"));
  std::vector<int32_t> ids = {101, -1};
  EXPECT_THROW(tok->decode(ids), Error);
}

}  // namespace
}  // namespace autolm::test
