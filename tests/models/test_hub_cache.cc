// Model ids through the Hugging Face cache laid out exactly as huggingface_hub writes it
// (refs/, snapshots/ linking into blobs/), so a model downloaded by Python is used as is.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "autolm/tokenizer.h"
#include "fixtures.h"
#include "io/hub_cache.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kCommit2 = "fedcba9876543210fedcba9876543210fedcba98";

// A cache with models--tiny-org--llama-tiny: blobs named by a fake etag, snapshot files as
// relative symlinks into ../../blobs, refs/main → kCommit, refs/v1 → kCommit2.
class HubCache : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("autolm-hub-" + std::to_string(::getpid()));
    fs::remove_all(cache_);
    const fs::path repo = cache_ / "models--tiny-org--llama-tiny";
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "refs");
    int n = 0;
    for (const std::string& commit : {kCommit, kCommit2}) {
      fs::create_directories(repo / "snapshots" / commit);
      for (auto& e : fs::directory_iterator(test::model_dir("llama-tiny"))) {
        const std::string blob = "blob" + std::to_string(n++);
        fs::copy_file(e.path(), repo / "blobs" / blob);
        fs::create_symlink(fs::path("../../blobs") / blob, repo / "snapshots" / commit / e.path().filename());
      }
    }
    std::ofstream(repo / "refs" / "main") << kCommit;  // huggingface_hub writes no newline
    std::ofstream(repo / "refs" / "v1") << kCommit2 << "\n";
    ::setenv("HF_HUB_CACHE", cache_.c_str(), 1);
    ::setenv("HF_HUB_OFFLINE", "1", 1);  // cache resolution only: downloads are test_hub_download.cc's
  }
  void TearDown() override {
    ::unsetenv("HF_HUB_CACHE");
    ::unsetenv("HF_HOME");
    ::unsetenv("HF_HUB_OFFLINE");
    fs::remove_all(cache_);
  }
  std::string snapshot(const std::string& commit) const {
    return (cache_ / "models--tiny-org--llama-tiny" / "snapshots" / commit).string();
  }
  fs::path cache_;
};

TEST_F(HubCache, ParsesModelIds) {
  auto id = parse_hub_model_id("Qwen/Qwen2.5-0.5B-Instruct");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->repo_id, "Qwen/Qwen2.5-0.5B-Instruct");
  EXPECT_EQ(id->revision, "main");
  id = parse_hub_model_id("org/name@v1.0");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->revision, "v1.0");
  for (const char* bad : {"name", "a/b/c", "../x", "a/..", "org/na--me", "/abs/path", "org/", "/x", "org/name@", "o rg/x",
                          "org/name@../../x", "./models/x"})
    EXPECT_FALSE(parse_hub_model_id(bad)) << bad;
}

TEST_F(HubCache, CacheDirFollowsHuggingfaceHubVariables) {
  EXPECT_EQ(hub_cache_dir(), cache_.string());
  ::unsetenv("HF_HUB_CACHE");
  ::setenv("HF_HOME", "/somewhere/hf", 1);
  EXPECT_EQ(hub_cache_dir(), "/somewhere/hf/hub");
  EXPECT_EQ(hub_repo_dir("org/name"), "/somewhere/hf/hub/models--org--name");
}

TEST_F(HubCache, ResolvesRefsAndCommits) {
  EXPECT_EQ(resolve_pretrained("tiny-org/llama-tiny"), snapshot(kCommit));
  EXPECT_EQ(resolve_pretrained("tiny-org/llama-tiny@main"), snapshot(kCommit));
  EXPECT_EQ(resolve_pretrained("tiny-org/llama-tiny@v1"), snapshot(kCommit2));
  EXPECT_EQ(resolve_pretrained("tiny-org/llama-tiny@" + kCommit2), snapshot(kCommit2));
  // An existing folder is used as it is.
  EXPECT_EQ(resolve_pretrained(test::model_dir("llama-tiny")), test::model_dir("llama-tiny"));
}

TEST_F(HubCache, ModelsAndTokenizersLoadByIdFromTheCache) {
  auto by_id = load_model("tiny-org/llama-tiny");
  auto by_dir = load_model(test::model_dir("llama-tiny"));
  const std::vector<int32_t> ids = {1, 5, 9};
  auto s1 = by_id->new_state(1, 3), s2 = by_dir->new_state(1, 3);
  auto a = by_id->decode(ids, {}, 3, *s1, false);
  auto b = by_dir->decode(ids, {}, 3, *s2, false);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin()));
  auto tok = AutoTokenizer::from_pretrained("tiny-org/llama-tiny");
  EXPECT_EQ(tok->encode("Hello world"), AutoTokenizer::from_pretrained(test::model_dir("llama-tiny"))->encode("Hello world"));
}

TEST_F(HubCache, MissingModelNamesRepoRevisionAndCache) {
  for (const char* id : {"tiny-org/absent", "tiny-org/llama-tiny@no-such-branch"}) {
    try {
      load_model(id);
      FAIL() << id;
    } catch (const Error& e) {
      EXPECT_EQ(int(e.kind()), int(ErrorKind::kNotFound));
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string(id).substr(0, std::string(id).find('@'))), std::string::npos) << msg;
      EXPECT_NE(msg.find("revision"), std::string::npos) << msg;
      EXPECT_NE(msg.find(cache_.string()), std::string::npos) << msg;
    }
  }
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  try {
    load_model("tiny-org/absent");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos) << e.what();
  }
}

TEST_F(HubCache, RefThatIsNotACommitIsRefused) {
  std::ofstream(cache_ / "models--tiny-org--llama-tiny" / "refs" / "main", std::ios::trunc) << "../../../../etc";
  EXPECT_THROW(load_model("tiny-org/llama-tiny"), Error);
}

TEST_F(HubCache, BlobLinksOutsideTheRepoAreRefused) {
  // A snapshot file linking out of the cache repository (not into its blobs/) is refused.
  const fs::path link = fs::path(snapshot(kCommit)) / "model.safetensors";
  fs::remove(link);
  fs::create_symlink(fs::absolute(test::model_dir("qwen2-tiny")) / "model.safetensors", link);
  try {
    load_model("tiny-org/llama-tiny");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the model folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace autolm
