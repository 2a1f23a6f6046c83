// The cache of quantized weights (io/weight_cache.h): a second int8 / int4 load maps what the
// first one quantized and computes the same logits bit for bit; a changed checkpoint, config,
// format, cache version or quantizer is a miss; a damaged entry is ignored with a warning and
// never crashes; a cache that cannot be written is a warning; LoadOptions::weight_cache = false
// and AUTOLM_NO_CACHE=1 neither read nor write. Every test uses a temporary cache folder.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "autolm/auto.h"
#include "io/weight_cache.h"

namespace autolm {
namespace {

namespace fs = std::filesystem;

const std::string kModels = std::string(AUTOLM_FIXTURES) + "/models/";

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<float> logits_of(const Model& model) {
  const std::vector<int32_t> ids = {1, 5, 9, 30, 17, 2};
  auto state = model.new_state(1, int(ids.size()));
  if (model.family() == ModelFamily::kSeq2Seq) {
    model.encode(ids, {}, int(ids.size()), *state);
    auto l = model.decode(std::vector<int32_t>{0, 4}, {}, 2, *state, true);
    return {l.begin(), l.end()};
  }
  auto l = model.decode(ids, {}, int(ids.size()), *state, true);
  return {l.begin(), l.end()};
}

class WeightCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("autolm_weight_cache_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    cache_ = (root_ / "cache").string();
    ::unsetenv("AUTOLM_NO_CACHE");  // ctest sets it for every other test
    ::setenv("AUTOLM_CACHE", cache_.c_str(), 1);
    ::unsetenv("AUTOLM_CACHE_MAX_BYTES");
  }
  void TearDown() override {
    ::unsetenv("AUTOLM_CACHE_MAX_BYTES");
    fs::remove_all(root_);
  }

  // A private copy of a fixture model (its files' mtimes and bytes may be changed).
  std::string copy_model(const std::string& name) {
    const fs::path dst = root_ / name;
    fs::copy(kModels + name, dst, fs::copy_options::recursive);
    return dst.string();
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    if (fs::exists(cache_))
      for (const auto& e : fs::directory_iterator(cache_)) out.push_back(e.path());
    return out;
  }
  static ino_t inode(const fs::path& p) {
    struct stat st {};
    ::stat(p.c_str(), &st);
    return st.st_ino;
  }
  static std::vector<float> load_logits(const std::string& dir, Dtype dtype, bool cache = true) {
    return logits_of(*load_model(dir, LoadOptions{.dtype = dtype, .weight_cache = cache}));
  }

  fs::path root_;
  std::string cache_;
};

// First load writes one entry; the second maps it (the entry is not rewritten: a load that had to
// quantize anything rewrites it) and computes exactly the logits of a load without the cache.
TEST_F(WeightCacheTest, SecondLoadMapsTheEntryAndMatchesBitForBit) {
  for (const std::string name : {"llama-tiny", "gpt2-tiny", "qwen2-tiny", "t5-tiny"})
    for (Dtype dtype : {Dtype::kInt8, Dtype::kInt4, Dtype::kInt4G64}) {
      SCOPED_TRACE(name + " " + dtype_name(dtype));
      fs::remove_all(cache_);
      const std::string dir = kModels + name;
      const std::vector<float> want = load_logits(dir, dtype, /*cache=*/false);
      EXPECT_TRUE(entries().empty());
      EXPECT_EQ(load_logits(dir, dtype), want);  // quantized, then written
      ASSERT_EQ(entries().size(), 1u);
      const fs::path entry = entries()[0];
      EXPECT_NE(entry.filename().string().find(dtype_name(dtype)), std::string::npos);
      const ino_t written = inode(entry);
      auto model = load_model(dir, LoadOptions{.dtype = dtype});
      EXPECT_EQ(logits_of(*model), want);
      EXPECT_EQ(model->unused_tensors(), load_model(dir, LoadOptions{.dtype = dtype, .weight_cache = false})->unused_tensors());
      EXPECT_EQ(inode(entry), written) << "the second load quantized something again";
      ASSERT_EQ(entries().size(), 1u) << "a temporary file was left behind";
    }
}

TEST_F(WeightCacheTest, FloatLoadsNeitherReadNorWrite) {
  load_model(kModels + "llama-tiny", LoadOptions{.dtype = Dtype::kFloat32});
  load_model(kModels + "llama-tiny", LoadOptions{.dtype = Dtype::kAuto});
  EXPECT_TRUE(entries().empty());
}

TEST_F(WeightCacheTest, OptionAndEnvironmentTurnItOff) {
  load_model(kModels + "llama-tiny", LoadOptions{.dtype = Dtype::kInt8, .weight_cache = false});
  EXPECT_TRUE(entries().empty());
  ::setenv("AUTOLM_NO_CACHE", "1", 1);
  load_model(kModels + "llama-tiny", LoadOptions{.dtype = Dtype::kInt8});
  EXPECT_TRUE(entries().empty());
  EXPECT_EQ(weight_cache_dir(), std::nullopt);
  ::setenv("AUTOLM_NO_CACHE", "0", 1);  // "0" (and "") mean on
  EXPECT_EQ(weight_cache_dir(), cache_);
}

TEST_F(WeightCacheTest, FolderOrder) {
  ::unsetenv("AUTOLM_CACHE");
  ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(weight_cache_dir(), "/x/cache/autolm");
  ::unsetenv("XDG_CACHE_HOME");
  ::setenv("HOME", "/home/u", 1);
  EXPECT_EQ(weight_cache_dir(), "/home/u/.cache/autolm");
  ::setenv("AUTOLM_CACHE", "/c", 1);
  EXPECT_EQ(weight_cache_dir(), "/c");
}

// The checkpoint's bytes change (same size, a new mtime): the entry is stale and the new weights
// are used, not the old entry's.
TEST_F(WeightCacheTest, ChangedCheckpointIsAMiss) {
  const std::string dir = copy_model("llama-tiny");
  const std::vector<float> before = load_logits(dir, Dtype::kInt8);
  ASSERT_EQ(entries().size(), 1u);
  const std::string file = dir + "/model.safetensors";
  std::string bytes = read_bytes(file);
  // The last tensor's bytes: negate its float32 values' signs (byte 3 of each, little-endian).
  for (size_t i = bytes.size() - 4096; i < bytes.size(); i += 4) bytes[i + 3] ^= char(0x80);
  write_bytes(file, bytes);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};  // an mtime surely different
  ASSERT_EQ(::utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  const std::vector<float> want = load_logits(dir, Dtype::kInt8, /*cache=*/false);
  ASSERT_NE(want, before);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(load_logits(dir, Dtype::kInt8), want);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("checkpoint files changed"), std::string::npos) << err;
  EXPECT_EQ(entries().size(), 1u);  // overwritten, not kept beside
  EXPECT_EQ(load_logits(dir, Dtype::kInt8), want);
}

TEST_F(WeightCacheTest, ChangedConfigIsAMiss) {
  const std::string dir = copy_model("llama-tiny");
  load_logits(dir, Dtype::kInt4);
  const ino_t first = inode(entries().at(0));
  std::string config = read_bytes(dir + "/config.json");
  config.insert(config.find('{') + 1, "\"_note\": 1, ");  // a key no loader reads
  write_bytes(dir + "/config.json", config);
  ::testing::internal::CaptureStderr();
  const std::vector<float> got = load_logits(dir, Dtype::kInt4);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("config_sha256"), std::string::npos) << err;
  EXPECT_EQ(got, load_logits(dir, Dtype::kInt4, false));
  EXPECT_NE(inode(entries().at(0)), first);
}

TEST_F(WeightCacheTest, OtherFormatIsAnotherEntry) {
  const std::string dir = kModels + "llama-tiny";
  load_logits(dir, Dtype::kInt8);
  EXPECT_EQ(load_logits(dir, Dtype::kInt4), load_logits(dir, Dtype::kInt4, false));
  EXPECT_EQ(load_logits(dir, Dtype::kInt4G64), load_logits(dir, Dtype::kInt4G64, false));
  EXPECT_EQ(entries().size(), 3u);
  EXPECT_EQ(load_logits(dir, Dtype::kInt8), load_logits(dir, Dtype::kInt8, false));
}

// The key's other parts: a header written by another cache version, autolm version or quantizer
// (same-length edits of the entry's JSON header) is not used.
TEST_F(WeightCacheTest, OtherVersionOrQuantizerIsAMiss) {
  const std::string dir = kModels + "llama-tiny";
  const std::vector<float> want = load_logits(dir, Dtype::kInt8, false);
  load_logits(dir, Dtype::kInt8);
  const fs::path entry = entries().at(0);
  const std::string good = read_bytes(entry);
  for (const std::string field : {"cache_version", "autolm", "quantizer"}) {
    SCOPED_TRACE(field);
    std::string bad = good;
    // The value's first digit ("cache_version":1, "autolm":"0.…", "quantizer":"<hex>").
    const std::string from = "\"" + field + "\":" + (field == "cache_version" ? "" : "\"");
    const size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    char& c = bad[at + from.size()];
    c = c == '9' ? '8' : '9';
    write_bytes(entry, bad);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(load_logits(dir, Dtype::kInt8), want);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("another " + field), std::string::npos) << err;
    EXPECT_EQ(read_bytes(entry), good);  // rewritten by the load
  }
}

// Damaged entries: truncated anywhere, bad magic, header length past the end, header edits that
// break the tensor table (ranges, alignment, overlap, shapes, dtype, group) — each ignored with a
// warning, the model quantized again, the same logits; never a crash.
TEST_F(WeightCacheTest, DamagedEntriesAreIgnored) {
  const std::string dir = kModels + "llama-tiny";
  const std::vector<float> want = load_logits(dir, Dtype::kInt4, false);
  load_logits(dir, Dtype::kInt4);
  const fs::path entry = entries().at(0);
  const std::string good = read_bytes(entry);
  std::vector<std::pair<std::string, std::string>> cases;
  for (size_t n : {size_t(0), size_t(7), size_t(15), size_t(40), good.size() / 2, good.size() - 1})
    cases.push_back({"truncated to " + std::to_string(n), good.substr(0, n)});
  std::string magic = good;
  magic[0] = 'X';
  cases.push_back({"magic", magic});
  std::string length = good;
  length[15] = char(0x7f);
  cases.push_back({"header length", length});
  // Same-length edits inside the header.
  auto edit = [&](const std::string& what, const std::string& from, const std::string& to) {
    std::string bad = good;
    const size_t at = bad.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    ASSERT_EQ(from.size(), to.size());
    bad.replace(at, from.size(), to);
    cases.push_back({what, bad});
  };
  edit("unaligned range", "\"qdata\":[0,", "\"qdata\":[1,");
  edit("dtype", "\"dtype\":\"I4\"", "\"dtype\":\"I5\"");
  edit("group", "\"group\":32", "\"group\":33");
  edit("shape", "\"shape\":[", "\"shape\":{");
  edit("tensors", "\"tensors\":{", "\"tensorz\":{");
  edit("JSON", "\"key\":{", "\"key\":[");
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    write_bytes(entry, bytes);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(load_logits(dir, Dtype::kInt4), want);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("ignoring the weight cache"), std::string::npos) << err;
    EXPECT_EQ(read_bytes(entry), good);  // quantized again and rewritten
  }
}

// A tensor table whose ranges overlap or leave the file: WeightCache refuses it (built here with
// the layout of weight_cache.cc: 16-byte prefix, JSON header, data at the next 4096 bytes).
TEST_F(WeightCacheTest, TensorTableIsBoundsChecked) {
  const std::string file = kModels + "llama-tiny/model.safetensors";
  WeightCache probe(cache_, {file}, "{}", "int8", "q");
  const json key = probe.key();
  auto entry = [&](const json& tensors, size_t data_bytes) {
    const std::string header = json{{"key", key}, {"tensors", tensors}}.dump();
    std::string bytes = "AUTOLMQW";
    for (int i = 0; i < 8; ++i) bytes += char((header.size() >> (8 * i)) & 0xff);
    bytes += header;
    bytes.resize((bytes.size() + 4095) / 4096 * 4096 + data_bytes, '\0');
    fs::create_directories(cache_);
    write_bytes(probe.path(), bytes);
  };
  const json ok = {{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}, {"scales", {256, 272}}}}};
  entry(ok, 272);
  {
    WeightCache c(cache_, {file}, "{}", "int8", "q");
    EXPECT_TRUE(c.mapped());
    EXPECT_FALSE(c.find("a", {4, 64}, DType::kI8, 0).empty());
    EXPECT_TRUE(c.find("a", {64, 4}, DType::kI8, 0).empty());
    EXPECT_TRUE(c.find("a", {4, 64}, DType::kI4, 32).empty());
    EXPECT_TRUE(c.find("b", {4, 64}, DType::kI8, 0).empty());
  }
  const std::vector<std::pair<json, size_t>> bad = {
      {ok, 271},  // the last range runs past the end
      {{{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}, {"scales", {192, 208}}}}}, 272},  // overlap
      {{{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}, {"scales", {256, 276}}}}}, 280},  // size
      {{{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}}}}, 272},                            // missing
      {{{"a", {{"dtype", "I8"}, {"shape", {0, 64}}, {"qdata", {0, 0}}, {"scales", {0, 0}}}}}, 272},          // empty
      {{{"a", {{"dtype", "I8"}, {"shape", {uint64_t(1) << 40, 64}}, {"qdata", {0, 256}}, {"scales", {256, 272}}}}}, 272},
      {{{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {uint64_t(-256), 0}}, {"scales", {256, 272}}}}}, 272},
      {{{"a", {{"dtype", "I4"}, {"shape", {4, 48}}, {"group", 32}, {"qdata", {0, 96}}, {"scales", {128, 144}},
                {"zeros", {192, 196}}}}}, 272},  // in_features not a multiple of the group
      {{{"a", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}, {"scales", {256, 272}}}},
        {"b", {{"dtype", "I8"}, {"shape", {4, 64}}, {"qdata", {0, 256}}, {"scales", {256, 272}}}}}, 272},  // shared bytes
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(i);
    entry(bad[i].first, bad[i].second);
    ::testing::internal::CaptureStderr();
    WeightCache c(cache_, {file}, "{}", "int8", "q");
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_FALSE(c.mapped());
    EXPECT_TRUE(c.find("a", {4, 64}, DType::kI8, 0).empty());
    EXPECT_NE(err.find("ignoring the weight cache"), std::string::npos) << err;
  }
}

// A folder that cannot be created or written: the load succeeds with a warning.
TEST_F(WeightCacheTest, UnwritableFolderIsAWarning) {
  const std::string blocker = (root_ / "a-file").string();
  write_bytes(blocker, "x");
  ::setenv("AUTOLM_CACHE", (blocker + "/cache").c_str(), 1);
  ::testing::internal::CaptureStderr();
  const std::vector<float> got = load_logits(kModels + "llama-tiny", Dtype::kInt8);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(got, load_logits(kModels + "llama-tiny", Dtype::kInt8, false));
  EXPECT_NE(err.find("could not write the weight cache"), std::string::npos) << err;
}

// A writer killed mid-write leaves "<entry>.tmp.*": the next write of that entry removes those
// over an hour old (a younger one may belong to a writer still running).
TEST_F(WeightCacheTest, AbandonedTemporaryFilesAreRemoved) {
  const std::string dir = kModels + "llama-tiny";
  load_logits(dir, Dtype::kInt8);
  const fs::path entry = entries().at(0);
  const std::string old_tmp = entry.string() + ".tmp.1.0.0", young_tmp = entry.string() + ".tmp.2.0.0";
  write_bytes(old_tmp, "partial");
  write_bytes(young_tmp, "partial");
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_tmp.c_str(), times, 0), 0);
  fs::remove(entry);
  load_logits(dir, Dtype::kInt8);  // writes the entry again
  EXPECT_TRUE(fs::exists(entry));
  EXPECT_FALSE(fs::exists(old_tmp));
  EXPECT_TRUE(fs::exists(young_tmp));
}

// A GPTQ checkpoint keeps its own 4-bit layers (never cached); its other matrices follow --dtype
// and may be, and the logits stay those of a load without the cache.
TEST_F(WeightCacheTest, GptqCheckpointUnaffected) {
  const std::string dir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/gptq/llama-gptq-tiny";
  for (Dtype dtype : {Dtype::kAuto, Dtype::kInt8, Dtype::kInt4}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::vector<float> want = load_logits(dir, dtype, false);
    EXPECT_EQ(load_logits(dir, dtype), want);
    EXPECT_EQ(load_logits(dir, dtype), want);
  }
}

// ---- Size cap (eviction) ----

// A file of `bytes` bytes whose modification time is `age_s` seconds in the past.
void write_aged(const std::string& path, size_t bytes, int age_s) {
  write_bytes(path, std::string(bytes, 'x'));
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - age_s, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}
std::string entry_name(char c, const std::string& format = "int8") {
  return std::string(32, c) + "-" + format + "-v1.autolm-weights";
}

TEST(WeightCacheEviction, EntryNamesAreOnlyTheCachesOwn) {
  EXPECT_TRUE(is_weight_cache_entry_name(entry_name('a')));
  EXPECT_TRUE(is_weight_cache_entry_name(entry_name('0', "int4-g64")));
  EXPECT_TRUE(is_weight_cache_entry_name("0123456789abcdef0123456789abcdef-int4-v12.autolm-weights"));
  for (const std::string& name : std::vector<std::string>{
           entry_name('a') + ".tmp.1.0.0", entry_name('A'), std::string(31, 'a') + "-int8-v1.autolm-weights",
        std::string(32, 'a') + "-fp16-v1.autolm-weights", std::string(32, 'a') + "-int8-v1.safetensors",
        "model.safetensors", "../" + entry_name('a'), "x" + entry_name('a'), "", "."})
    EXPECT_FALSE(is_weight_cache_entry_name(name)) << name;
}

TEST(WeightCacheEviction, MaxBytesFromTheEnvironment) {
  ::unsetenv("AUTOLM_CACHE_MAX_BYTES");
  EXPECT_EQ(weight_cache_max_bytes(), kWeightCacheDefaultMaxBytes);
  const std::pair<const char*, uint64_t> cases[] = {
      {"0", 0}, {"12345", 12345}, {"4K", 4096}, {"3m", 3u << 20}, {"20G", uint64_t(20) << 30}, {"2T", uint64_t(2) << 40}};
  for (const auto& [text, want] : cases) {
    ::setenv("AUTOLM_CACHE_MAX_BYTES", text, 1);
    EXPECT_EQ(weight_cache_max_bytes(), want) << text;
  }
  for (const char* bad : {"-1", "1.5G", "20GB", "lots", " 10", "99999999999999999999", "16777216T"}) {
    ::setenv("AUTOLM_CACHE_MAX_BYTES", bad, 1);
    ::testing::internal::CaptureStderr();
    EXPECT_EQ(weight_cache_max_bytes(), kWeightCacheDefaultMaxBytes) << bad;
    EXPECT_NE(::testing::internal::GetCapturedStderr().find("AUTOLM_CACHE_MAX_BYTES"), std::string::npos) << bad;
  }
  ::unsetenv("AUTOLM_CACHE_MAX_BYTES");
}

// Oldest first until the total fits; the kept entry stays even when it is the oldest; files that
// are not entries (temporary files, other names, a symlink named like an entry, a folder) are
// neither deleted nor counted.
TEST_F(WeightCacheTest, EvictionKeepsTheNewestRespectsTheCapAndIgnoresForeignFiles) {
  fs::create_directories(cache_);
  const fs::path outside = root_ / "outside.bin";
  write_bytes(outside.string(), std::string(5000, 'o'));
  const std::string c = cache_ + "/";
  write_aged(c + entry_name('1'), 1000, 500);  // oldest
  write_aged(c + entry_name('2'), 1000, 400);
  write_aged(c + entry_name('3'), 1000, 300);
  write_aged(c + entry_name('4'), 1000, 200);
  write_aged(c + entry_name('5'), 1000, 100);  // newest
  write_aged(c + entry_name('9'), 1000, 900);  // kept although the oldest
  write_aged(c + entry_name('1') + ".tmp.7.0.0", 3000, 9000);
  write_aged(c + "notes.txt", 3000, 9000);
  fs::create_symlink(outside, c + entry_name('6'));
  fs::create_directories(c + entry_name('7'));
  evict_weight_cache(cache_, 3500, c + entry_name('9'));
  EXPECT_TRUE(fs::exists(c + entry_name('9')));
  EXPECT_FALSE(fs::exists(c + entry_name('1')));
  EXPECT_FALSE(fs::exists(c + entry_name('2')));
  EXPECT_FALSE(fs::exists(c + entry_name('3')));
  EXPECT_TRUE(fs::exists(c + entry_name('4')));
  EXPECT_TRUE(fs::exists(c + entry_name('5')));
  EXPECT_TRUE(fs::exists(c + entry_name('1') + ".tmp.7.0.0"));
  EXPECT_TRUE(fs::exists(c + "notes.txt"));
  EXPECT_TRUE(fs::is_symlink(c + entry_name('6')));
  EXPECT_TRUE(fs::is_directory(c + entry_name('7')));
  EXPECT_EQ(fs::file_size(outside), 5000u);
  // Under the cap: nothing more goes; a cap of 0 leaves only the kept entry.
  evict_weight_cache(cache_, 3500, c + entry_name('9'));
  EXPECT_TRUE(fs::exists(c + entry_name('4')));
  evict_weight_cache(cache_, 0, c + entry_name('9'));
  EXPECT_FALSE(fs::exists(c + entry_name('4')));
  EXPECT_FALSE(fs::exists(c + entry_name('5')));
  EXPECT_TRUE(fs::exists(c + entry_name('9')));
  EXPECT_TRUE(fs::exists(c + "notes.txt"));
  evict_weight_cache(root_.string() + "/missing", 0, "");  // a missing folder: nothing, no throw
}

// Through a load: writing a new entry evicts the least recently used; a load that maps an entry
// touches it (it becomes the newest); an entry larger than the cap on its own is not written.
TEST_F(WeightCacheTest, LoadsEvictTheLeastRecentlyUsed) {
  const std::string llama = kModels + "llama-tiny", gpt2 = kModels + "gpt2-tiny";
  load_logits(gpt2, Dtype::kInt8);
  ASSERT_EQ(entries().size(), 1u);
  const uint64_t gpt2_bytes = fs::file_size(entries()[0]);
  fs::remove_all(cache_);
  load_logits(llama, Dtype::kInt8);
  ASSERT_EQ(entries().size(), 1u);
  const fs::path llama_entry = entries()[0];
  const uint64_t llama_bytes = fs::file_size(llama_entry);
  // Written before the stale entry; the load below makes it the more recently used.
  struct timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, llama_entry.c_str(), times, 0), 0);
  const fs::path stale = fs::path(cache_) / entry_name('f');
  write_aged(stale.string(), 100, 3600);
  const std::vector<float> want = load_logits(llama, Dtype::kInt8, false);
  EXPECT_EQ(load_logits(llama, Dtype::kInt8), want);  // maps and touches the llama entry
  EXPECT_GT(fs::last_write_time(llama_entry), fs::last_write_time(stale));
  // Room for the llama entry and the gpt2 entry, not for the stale one besides.
  ::setenv("AUTOLM_CACHE_MAX_BYTES", std::to_string(llama_bytes + gpt2_bytes + 50).c_str(), 1);
  load_logits(gpt2, Dtype::kInt8);
  EXPECT_TRUE(fs::exists(llama_entry));
  EXPECT_EQ(entries().size(), 2u);
  EXPECT_FALSE(fs::exists(stale)) << "the least recently used entry was kept";
  // A cap of the gpt2 entry alone: writing it evicts the llama entry.
  ::setenv("AUTOLM_CACHE_MAX_BYTES", std::to_string(gpt2_bytes).c_str(), 1);
  fs::remove_all(cache_);
  load_logits(llama, Dtype::kInt8);
  load_logits(gpt2, Dtype::kInt8);
  ASSERT_EQ(entries().size(), 1u);
  EXPECT_EQ(fs::file_size(entries()[0]), gpt2_bytes);
  // A cap below one entry: nothing is written, the load still works, with a warning.
  fs::remove_all(cache_);
  ::setenv("AUTOLM_CACHE_MAX_BYTES", "4096", 1);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(load_logits(llama, Dtype::kInt8), want);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(entries().empty());
  EXPECT_NE(err.find("AUTOLM_CACHE_MAX_BYTES"), std::string::npos) << err;
}

}  // namespace
}  // namespace autolm
