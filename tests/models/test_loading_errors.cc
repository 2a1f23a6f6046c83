// Bad input while loading a folder: every case is a clear autolm::Error naming the culprit.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <unistd.h>

#include "autolm/auto.h"
#include "fixtures.h"
#include "io/mmap.h"
#include "models/scratch_folder.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

using test::ScratchFolder;
using test::expect_error;
using test::repacked;
using test::with_header;

TEST(LoadingErrors, MissingFolder) {
  expect_error("/nonexistent/model", ErrorKind::kNotFound, {"/nonexistent/model", "does not exist"});
}

TEST(LoadingErrors, MissingConfig) {
  ScratchFolder f("llama-tiny");
  fs::remove(f.file("config.json"));
  expect_error(f.path(), ErrorKind::kNotFound, {"config.json"});
}

TEST(LoadingErrors, MalformedConfigJson) {
  ScratchFolder f("llama-tiny");
  f.write("config.json", "{\"model_type\": \"llama\", ");
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "malformed JSON"});
}

TEST(LoadingErrors, MissingRequiredKey) {
  ScratchFolder f("llama-tiny");
  json c = json::parse(f.read("config.json"));
  c.erase("hidden_size");
  f.write("config.json", c.dump());
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "hidden_size"});
}

TEST(LoadingErrors, WrongTypedKey) {
  ScratchFolder f("qwen3-tiny");
  json c = json::parse(f.read("config.json"));
  c["num_attention_heads"] = "four";
  f.write("config.json", c.dump());
  expect_error(f.path(), ErrorKind::kInvalidInput, {"config.json", "num_attention_heads"});
}

TEST(LoadingErrors, UnknownModelTypeListsSupported) {
  ScratchFolder f("llama-tiny");
  json c = json::parse(f.read("config.json"));
  c["model_type"] = "mamba9";
  f.write("config.json", c.dump());
  expect_error(f.path(), ErrorKind::kUnsupported, {"mamba9", "supported model types", "llama", "t5", "gemma3_text"});
}

TEST(LoadingErrors, ArchitecturesFallback) {
  ScratchFolder f("llama-tiny");
  json c = json::parse(f.read("config.json"));
  c.erase("model_type");
  f.write("config.json", c.dump());
  EXPECT_EQ(load_model(f.path())->config().model_type, "llama");
}

TEST(LoadingErrors, MissingWeights) {
  ScratchFolder f("llama-tiny");
  fs::remove(f.file("model.safetensors"));
  expect_error(f.path(), ErrorKind::kNotFound, {"model.safetensors"});
}

TEST(LoadingErrors, HeaderLengthPastEnd) {
  ScratchFolder f("llama-tiny");
  std::string bytes = f.read("model.safetensors");
  uint64_t huge = bytes.size() * 2;
  std::memcpy(bytes.data(), &huge, 8);
  f.write("model.safetensors", bytes);
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.safetensors", "header length"});
}

TEST(LoadingErrors, HeaderNotJson) {
  ScratchFolder f("llama-tiny");
  std::string bytes = f.read("model.safetensors");
  bytes[8] = '#';
  f.write("model.safetensors", bytes);
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.safetensors", "not valid JSON"});
}

TEST(LoadingErrors, OffsetsPastEnd) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json& h) {
    h["model.norm.weight"]["data_offsets"][1] = uint64_t(1) << 40;
  }));
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.norm.weight", "data_offsets"});
}

TEST(LoadingErrors, SizeDisagreesWithShape) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json& h) {
    h["model.norm.weight"]["shape"] = {65};
  }));
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.norm.weight", "needs"});
}

TEST(LoadingErrors, UnknownDtype) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json& h) {
    h["model.norm.weight"]["dtype"] = "F12";
  }));
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.norm.weight", "unknown dtype", "F12"});
}

TEST(LoadingErrors, TruncatedFile) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json&) {}, 1000));
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.safetensors", "truncated"});
}

TEST(LoadingErrors, MissingTensor) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", repacked(f.file("model.safetensors"), [](const std::string& name) {
    return name != "model.layers.1.mlp.down_proj.weight";
  }));
  expect_error(f.path(), ErrorKind::kNotFound, {"model.layers.1.mlp.down_proj.weight", "missing tensor"});
}

TEST(LoadingErrors, WronglyShapedTensor) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json& h) {
    h["model.norm.weight"]["shape"] = {8, 8};  // same byte size, wrong shape
  }));
  expect_error(f.path(), ErrorKind::kInvalidInput, {"model.norm.weight", "[8, 8]", "expected [64]"});
}

TEST(LoadingErrors, NonFloatWeightDtype) {
  ScratchFolder f("llama-tiny");
  f.write("model.safetensors", with_header(f.file("model.safetensors"), [](json& h) {
    h["model.norm.weight"]["dtype"] = "I32";
  }));
  expect_error(f.path(), ErrorKind::kUnsupported, {"model.norm.weight", "I32"});
}

TEST(LoadingErrors, ShardedIndexLoads) {
  ScratchFolder f("llama-tiny");
  // Split into two shards by rewriting headers: both files keep all the data but each header
  // lists half the tensors, and the index maps every tensor to its shard.
  const std::string orig = f.file("model.safetensors");
  json header;
  {
    std::string bytes = read_text_file(orig);
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    header = json::parse(bytes.substr(8, n));
  }
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  int i = 0;
  std::set<std::string> first;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") continue;
    const bool a = (i++ % 2) == 0;
    index["weight_map"][name] = a ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    if (a) first.insert(name);
  }
  f.write("model-00001-of-00002.safetensors", repacked(orig, [&](const std::string& name) {
    return first.count(name) > 0;
  }));
  f.write("model-00002-of-00002.safetensors", repacked(orig, [&](const std::string& name) {
    return first.count(name) == 0;
  }));
  fs::remove(orig);
  f.write("model.safetensors.index.json", index.dump());
  auto model = load_model(f.path());
  auto ref = load_model(test::model_dir("llama-tiny"));
  std::vector<int32_t> ids = {1, 5, 9};
  auto s1 = model->new_state(1, 3);
  auto s2 = ref->new_state(1, 3);
  auto a = model->decode(ids, {}, 3, *s1, false);
  auto b = ref->decode(ids, {}, 3, *s2, false);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
}

// Asking the wrong Auto class is refused, naming the right one (every fixture model).
TEST(WrongClass, CausalFoldersRefuseSeq2Seq) {
  for (const auto& name : test::causal_models()) {
    try {
      AutoModelForSeq2SeqLM::from_pretrained(test::model_dir(name));
      FAIL() << name;
    } catch (const Error& e) {
      EXPECT_EQ(int(e.kind()), int(ErrorKind::kWrongClass));
      EXPECT_NE(std::string(e.what()).find("AutoModelForCausalLM"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("decoder-only"), std::string::npos) << e.what();
    }
  }
}

TEST(WrongClass, Seq2SeqFoldersRefuseCausal) {
  for (const auto& name : test::seq2seq_models()) {
    try {
      AutoModelForCausalLM::from_pretrained(test::model_dir(name));
      FAIL() << name << ": transformers silently loads the decoder alone; we must refuse";
    } catch (const Error& e) {
      EXPECT_EQ(int(e.kind()), int(ErrorKind::kWrongClass));
      EXPECT_NE(std::string(e.what()).find("AutoModelForSeq2SeqLM"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("encoder-decoder"), std::string::npos) << e.what();
    }
  }
}

TEST(WrongClass, RightClassMatchesReferenceAutoClass) {
  for (const auto& name : test::causal_models()) {
    auto ref = test::load_ref(name);
    EXPECT_EQ(auto_class_name(AutoConfig::from_pretrained(test::model_dir(name)).family), ref.value("auto_class", "AutoModelForCausalLM"));
  }
  for (const auto& name : test::seq2seq_models()) {
    auto ref = test::load_ref(name);
    EXPECT_EQ(auto_class_name(AutoConfig::from_pretrained(test::model_dir(name)).family), ref.value("auto_class", "AutoModelForSeq2SeqLM"));
  }
}

TEST(DecodeErrors, IdOutOfVocabulary) {
  auto model = load_model(test::model_dir("llama-tiny"));
  auto state = model->new_state(1, 4);
  std::vector<int32_t> ids = {1, 5000};
  EXPECT_THROW(model->decode(ids, {}, 2, *state, false), Error);
}

TEST(DecodeErrors, AbsurdLengthFailsCleanly) {
  auto model = load_model(test::model_dir("llama-tiny"));
  try {
    model->new_state(64, 2000000000);
    FAIL() << "a multi-terabyte cache must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(ErrorKind::kInvalidInput));
    EXPECT_NE(std::string(e.what()).find("max_new_tokens"), std::string::npos) << e.what();
  }
}

TEST(DecodeErrors, ExceedingStateLength) {
  auto model = load_model(test::model_dir("llama-tiny"));
  auto state = model->new_state(1, 2);
  std::vector<int32_t> ids = {1, 5, 7};
  EXPECT_THROW(model->decode(ids, {}, 3, *state, false), Error);
}

}  // namespace
}  // namespace autolm
