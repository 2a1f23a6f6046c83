// PyTorch checkpoints (pytorch_model.bin, single and sharded): the same logits as the
// safetensors copy of the same weights, and hostile pickles refused without running anything.
// Files: tests/data/bin, made by tests/data/make_bin_fixtures.py (torch.save, checked to load in
// transformers 5.24 with the safetensors copy's logits).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "fixtures.h"
#include "io/mmap.h"
#include "io/torch_bin.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

const std::string kBin = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/bin/";

// A temp folder with a fixture model's config and tokenizer files but the .bin weights of `bin`.
class BinFolder {
 public:
  BinFolder(const std::string& model, const std::string& bin) {
    dir_ = fs::temp_directory_path() / ("autolm-bin-" + std::to_string(::getpid()) + "-" + bin);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (auto& e : fs::directory_iterator(test::model_dir(model)))
      if (e.path().filename().string().rfind("model.safetensors", 0) != 0) fs::copy(e.path(), dir_ / e.path().filename());
    for (auto& e : fs::directory_iterator(kBin + bin)) fs::copy(e.path(), dir_ / e.path().filename());
  }
  ~BinFolder() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

std::vector<float> logits_of(const Model& m) {
  const std::vector<int32_t> ids = {5, 9, 13, 2, 7};
  auto state = m.new_state(1, 8);
  if (m.family() == ModelFamily::kSeq2Seq) {
    m.encode(ids, {}, int(ids.size()), *state);
    const std::vector<int32_t> dec = {0, 4, 6};
    auto out = m.decode(dec, {}, int(dec.size()), *state, true);
    return {out.begin(), out.end()};
  }
  auto out = m.decode(ids, {}, int(ids.size()), *state, true);
  return {out.begin(), out.end()};
}

TEST(TorchBin, SameLogitsAsSafetensors) {
  for (auto [model, bin] : {std::pair{"llama-tiny", "llama-tiny"}, {"gpt2-tiny", "gpt2-tiny"}, {"t5-tiny", "t5-tiny-sharded"}}) {
    BinFolder f(model, bin);
    auto from_bin = load_model(f.path());
    auto from_st = load_model(test::model_dir(model));
    EXPECT_EQ(logits_of(*from_bin), logits_of(*from_st)) << bin;
  }
}

TEST(TorchBin, Bfloat16Checkpoint) {
  BinFolder f("llama-tiny", "llama-tiny-bfloat16");
  auto m = load_model(f.path());
  auto a = logits_of(*m), b = logits_of(*load_model(test::model_dir("llama-tiny")));
  ASSERT_EQ(a.size(), b.size());
  float max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, std::abs(a[i] - b[i])), max_ref = std::max(max_ref, std::abs(b[i]));
  EXPECT_LT(max_diff, 0.05f * max_ref);  // bf16-rounded weights: close, not equal
  EXPECT_GT(max_diff, 0.f);
}

TEST(TorchBin, TensorsViewTheStoragesInPlace) {
  TorchBinFile f(kBin + "llama-tiny/pytorch_model.bin");
  ASSERT_TRUE(f.tensors().count("model.embed_tokens.weight"));
  const TensorInfo& t = f.tensors().at("model.embed_tokens.weight");
  EXPECT_EQ(t.dtype, "F32");
  EXPECT_EQ(t.nbytes, size_t(t.shape[0] * t.shape[1] * 4));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.ptr) % 4, 0u);
}

void expect_refused(const std::string& file, std::vector<std::string> fragments) {
  try {
    TorchBinFile f(kBin + "hostile/" + file);
    FAIL() << file << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(ErrorKind::kInvalidInput)) << e.what();
    fragments.push_back(file);
    for (auto& s : fragments) EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << "'" << s << "' not in: " << e.what();
  }
}

TEST(TorchBin, HostilePicklesAreRefusedWithoutRunningAnything) {
  fs::remove("/tmp/autolm-pwned");
  expect_refused("os_system.bin", {"global \"posix.system\" is not allowed"});
  expect_refused("eval.bin", {"global \"__builtin__.eval\" is not allowed"});
  expect_refused("storage_past_end.bin", {"tensor \"w\"", "runs past its storage"});
  expect_refused("legacy.bin", {"not a zip archive"});
  expect_refused("plain_pickle.bin", {"not a zip archive"});
  EXPECT_FALSE(fs::exists("/tmp/autolm-pwned"));
}

TEST(TorchBin, HostileFolderIsAClearLoadError) {
  BinFolder f("llama-tiny", "llama-tiny");
  fs::copy_file(kBin + "hostile/os_system.bin", f.path() + "/pytorch_model.bin", fs::copy_options::overwrite_existing);
  try {
    load_model(f.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pytorch_model.bin"), std::string::npos) << e.what();
  }
}

// Every truncation and many single-byte corruptions of a real checkpoint: an Error or a
// successful load, never a crash (run under the sanitizers by scripts/sanitize.sh).
TEST(TorchBin, TruncatedAndCorruptedFilesNeverCrash) {
  const std::string bytes = read_text_file(kBin + "gpt2-tiny/pytorch_model.bin", uint64_t(1) << 30);
  const std::string tmp = (fs::temp_directory_path() / ("autolm-bin-corrupt-" + std::to_string(::getpid()))).string();
  auto attempt = [&](const std::string& data) {
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << data;
    try {
      TorchBinFile f(tmp);
    } catch (const Error&) {
    }
  };
  for (size_t cut = 0; cut < bytes.size(); cut += 997) attempt(bytes.substr(0, cut));
  // The pickle and the zip directories live in the first 2 KB and the last ~1 KB.
  for (size_t i = 0; i < bytes.size(); i += (i < 2048 || i + 1200 > bytes.size()) ? 7 : 4099) {
    std::string b = bytes;
    b[i] = char(b[i] ^ 0x5A);
    attempt(b);
  }
  fs::remove(tmp);
}

}  // namespace
}  // namespace autolm
