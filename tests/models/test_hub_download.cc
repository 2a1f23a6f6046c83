// Downloads by model id against a Hub-shaped server on loopback (fake_hub.h): what is fetched,
// the cache layout huggingface_hub reads, tokens and where they go, redirects, gated / missing
// repositories, .no_exist markers, interrupted and resumed transfers, sha256, offline mode.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "fake_hub.h"
#include "fixtures.h"
#include "io/hub_cache.h"
#include "io/hub_download.h"
#include "io/mmap.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

const std::string kCommit = "1111111111222222222233333333334444444444";

std::string slurp(const fs::path& p) { return read_text_file(p.string(), uint64_t(1) << 30); }

// A repository holding a fixture folder's files (model.safetensors as an LFS file) plus files
// autolm must never fetch.
test::FakeHub::Repo fixture_repo(const std::string& fixture) {
  test::FakeHub::Repo repo{kCommit, {}, ""};
  for (auto& e : fs::directory_iterator(test::model_dir(fixture))) {
    const std::string name = e.path().filename().string();
    repo.files[name] = {slurp(e.path()), name == "model.safetensors" || name == "tokenizer.model", ""};
  }
  for (const char* never : {"tf_model.h5", "flax_model.msgpack", "onnx/model.onnx", "model.gguf", "README.md",
                            "pytorch_model.bin", "rust_model.ot"})
    repo.files[never] = {"not for autolm", true, ""};
  return repo;
}

class HubDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = fs::temp_directory_path() / ("autolm-dl-" + std::to_string(::getpid()) + "-" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(cache_);
    ::setenv("HF_HUB_CACHE", cache_.c_str(), 1);
    ::setenv("HF_ENDPOINT", hub_.endpoint().c_str(), 1);
    ::setenv("HF_TOKEN_PATH", (cache_ / "no-token").c_str(), 1);
    ::setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
    for (const char* v : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HOME"})
      ::unsetenv(v);
    hub_.add_repo("org/llama-tiny", fixture_repo("llama-tiny"));
  }
  void TearDown() override {
    for (const char* v : {"HF_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN_PATH", "HF_HUB_DISABLE_PROGRESS_BARS",
                          "HF_HUB_OFFLINE", "HF_TOKEN"})
      ::unsetenv(v);
    // AUTOLM_TEST_KEEP_HUB_CACHE=1 keeps the caches, to inspect them with huggingface_hub.
    if (!std::getenv("AUTOLM_TEST_KEEP_HUB_CACHE")) fs::remove_all(cache_);
  }
  fs::path repo_dir(const std::string& folder = "models--org--llama-tiny") const { return cache_ / folder; }
  fs::path snapshot(const std::string& folder = "models--org--llama-tiny") const {
    return repo_dir(folder) / "snapshots" / kCommit;
  }
  static std::vector<float> logits(const std::string& name) {
    auto m = load_model(name);
    const std::vector<int32_t> ids = {1, 5, 9};
    auto s = m->new_state(1, 3);
    auto out = m->decode(ids, {}, 3, *s, false);
    return {out.begin(), out.end()};
  }
  static std::string error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  test::FakeHub hub_;
  fs::path cache_;
};

TEST_F(HubDownload, DownloadsOnFirstUseOnlyWhatTheModelNeedsInHuggingfaceHubsLayout) {
  EXPECT_EQ(logits("org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  // Fetched: the API listing, then each needed file; never TF/Flax/ONNX/GGUF/.bin (safetensors wins).
  std::set<std::string> fetched;
  for (auto& s : hub_.seen()) fetched.insert(s.path);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                        "tokenizer_config.json", "tokenizer.model"})
    EXPECT_TRUE(fetched.count("/org/llama-tiny/resolve/" + kCommit + "/" + f)) << f;
  for (auto& p : fetched)
    for (const char* never : {".h5", ".msgpack", ".onnx", ".gguf", "README", ".bin", ".ot"})
      EXPECT_EQ(p.find(never), std::string::npos) << p;
  // The layout huggingface_hub writes: refs/main = the commit (no newline), snapshot files as
  // relative links to blobs named by the etag (the sha256 for LFS files), .no_exist markers.
  EXPECT_EQ(slurp(repo_dir() / "refs" / "main"), kCommit);
  const fs::path weights = snapshot() / "model.safetensors";
  ASSERT_TRUE(fs::is_symlink(weights));
  const std::string sha = test::FakeHub::Sha256Of(slurp(test::model_dir("llama-tiny") + "/model.safetensors"));
  EXPECT_EQ(fs::read_symlink(weights), fs::path("../../blobs") / sha);
  EXPECT_TRUE(fs::is_regular_file(repo_dir() / "blobs" / sha));
  EXPECT_TRUE(fs::is_symlink(snapshot() / "config.json"));
  EXPECT_EQ(fs::read_symlink(snapshot() / "config.json").parent_path(), fs::path("../../blobs"));
  EXPECT_TRUE(fs::is_regular_file(repo_dir() / ".no_exist" / kCommit / "special_tokens_map.json"));
  EXPECT_TRUE(fs::is_regular_file(repo_dir() / ".no_exist" / kCommit / "chat_template.jinja"));
  for (auto& e : fs::recursive_directory_iterator(cache_))
    EXPECT_EQ(e.path().string().find(".incomplete"), std::string::npos) << e.path();
  EXPECT_TRUE(fs::exists(cache_ / ".locks" / "models--org--llama-tiny"));
}

TEST_F(HubDownload, CachedModelsNeedOneRequestForABranchAndNoneForACommitOrOffline) {
  logits("org/llama-tiny");
  hub_.clear_seen();
  logits("org/llama-tiny");  // main: asks which commit main is, finds everything cached
  ASSERT_EQ(hub_.seen().size(), 1u);
  EXPECT_EQ(hub_.seen()[0].path, "/api/models/org/llama-tiny/revision/main");
  hub_.clear_seen();
  logits("org/llama-tiny@" + kCommit);
  EXPECT_TRUE(hub_.seen().empty());
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  logits("org/llama-tiny");
  EXPECT_TRUE(hub_.seen().empty());
}

TEST_F(HubDownload, OfflineModeNeverTouchesTheNetwork) {
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  const std::string msg = error_of([] { load_model("org/llama-tiny"); });
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
  EXPECT_NE(msg.find("org/llama-tiny"), std::string::npos) << msg;
  EXPECT_TRUE(hub_.seen().empty());
}

TEST_F(HubDownload, TokenGoesToTheHubButNeverToTheCdn) {
  ::setenv("HF_TOKEN", "hf_secret", 1);
  logits("org/llama-tiny");
  int hub_requests = 0, cdn_requests = 0;
  for (auto& s : hub_.seen()) {
    if (s.cdn) {
      ++cdn_requests;
      EXPECT_EQ(s.authorization, "") << s.path;
    } else {
      ++hub_requests;
      EXPECT_EQ(s.authorization, "Bearer hf_secret") << s.path;
    }
  }
  EXPECT_GT(hub_requests, 0);
  EXPECT_EQ(cdn_requests, 2);  // model.safetensors and tokenizer.model are LFS files
}

TEST_F(HubDownload, GatedRepositoryExplainsTheLicenceAndUsesTheTokenFile) {
  auto repo = fixture_repo("llama-tiny");
  repo.gated_token = "hf_granted";
  hub_.add_repo("org/gated", repo);
  std::string msg = error_of([] { load_model("org/gated"); });
  for (const char* part : {"org/gated", "gated", "licence", "/org/gated", "HF_TOKEN", "401"})
    EXPECT_NE(msg.find(part), std::string::npos) << part << " not in: " << msg;
  ::setenv("HF_TOKEN", "hf_wrong", 1);
  msg = error_of([] { load_model("org/gated"); });
  EXPECT_NE(msg.find("403"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token from HF_TOKEN"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hf_wrong"), std::string::npos) << "the token itself is never printed: " << msg;
  ::unsetenv("HF_TOKEN");
  std::ofstream(cache_ / "no-token") << "hf_granted\n";  // HF_TOKEN_PATH, as `huggingface-cli login` writes it
  EXPECT_EQ(logits("org/gated"), logits(test::model_dir("llama-tiny")));
}

TEST_F(HubDownload, MissingRepositoryAndRevisionAreNamed) {
  std::string msg = error_of([] { load_model("org/absent"); });
  EXPECT_NE(msg.find("repository org/absent not found"), std::string::npos) << msg;
  msg = error_of([] { load_model("org/llama-tiny@no-such-branch"); });
  EXPECT_NE(msg.find("revision \"no-such-branch\" not found in org/llama-tiny"), std::string::npos) << msg;
}

TEST_F(HubDownload, OptionalFileTheHubDoesNotServeIsMarkedNoExist) {
  auto repo = fixture_repo("llama-tiny");
  repo.files["special_tokens_map.json"] = {"{}", false, "", true};  // listed, but 404 EntryNotFound
  hub_.add_repo("org/with-404", repo);
  logits("org/with-404");
  EXPECT_TRUE(fs::is_regular_file(repo_dir("models--org--with-404") / ".no_exist" / kCommit / "special_tokens_map.json"));
  EXPECT_FALSE(fs::exists(snapshot("models--org--with-404") / "special_tokens_map.json"));
}

TEST_F(HubDownload, RenamedRepositoryFollowsTheHubsRelativeRedirects) {
  hub_.rename("old-org/llama-tiny", "org/llama-tiny");
  EXPECT_EQ(logits("old-org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  EXPECT_TRUE(fs::is_directory(snapshot("models--old-org--llama-tiny")));  // cached under the name asked for
}

TEST_F(HubDownload, InterruptedTransferResumesWithRange) {
  hub_.cut_next_transfers(1);
  EXPECT_EQ(logits("org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  bool resumed = false;
  for (auto& s : hub_.seen())
    if (s.cdn && s.range.rfind("bytes=", 0) == 0 && s.range != "bytes=0-") resumed = true;
  EXPECT_TRUE(resumed);
}

TEST_F(HubDownload, IncompleteFileOfAnEarlierRunIsResumed) {
  const std::string content = slurp(test::model_dir("llama-tiny") + "/model.safetensors");
  const std::string sha = test::FakeHub::Sha256Of(content);
  fs::create_directories(repo_dir() / "blobs");
  std::ofstream(repo_dir() / "blobs" / (sha + ".incomplete"), std::ios::binary) << content.substr(0, 1000);
  EXPECT_EQ(logits("org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  std::vector<std::string> ranges;
  for (auto& s : hub_.seen())
    if (s.cdn && s.path == "/blob/org/llama-tiny/" + sha) ranges.push_back(s.range);
  EXPECT_EQ(ranges, std::vector<std::string>{"bytes=1000-"});
  EXPECT_EQ(test::FakeHub::Sha256Of(slurp(repo_dir() / "blobs" / sha)), sha);
}

TEST_F(HubDownload, WrongSha256IsRefusedAndNothingEntersTheCache) {
  auto repo = fixture_repo("llama-tiny");
  std::string& served = repo.files["model.safetensors"].served;
  served = repo.files["model.safetensors"].content;
  served[served.size() / 2] ^= 1;
  hub_.add_repo("org/corrupt", repo);
  const std::string msg = error_of([] { load_model("org/corrupt"); });
  EXPECT_NE(msg.find("sha256"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(snapshot("models--org--corrupt") / "model.safetensors"));
  const std::string sha = test::FakeHub::Sha256Of(repo.files["model.safetensors"].content);
  EXPECT_FALSE(fs::exists(repo_dir("models--org--corrupt") / "blobs" / sha));
  EXPECT_FALSE(fs::exists(repo_dir("models--org--corrupt") / "blobs" / (sha + ".incomplete")));
}

TEST_F(HubDownload, ShardedSafetensorsAreFetchedFromTheIndexAndPreferredOverBin) {
  test::FakeHub::Repo repo{kCommit, {}, ""};
  repo.files["config.json"] = {"{}", false, ""};
  repo.files["model.safetensors.index.json"] = {
      R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})",
      false, ""};
  repo.files["model-00001-of-00002.safetensors"] = {"shard one", true, ""};
  repo.files["model-00002-of-00002.safetensors"] = {"shard two", true, ""};
  repo.files["model-00003-of-00003.safetensors"] = {"not in the index", true, ""};
  repo.files["pytorch_model.bin.index.json"] = {"{}", false, ""};
  hub_.add_repo("org/sharded", repo);
  const HubDownloadReport r = hub_download(*parse_hub_model_id("org/sharded"), HubSettings::from_environment());
  EXPECT_EQ(r.commit, kCommit);
  EXPECT_EQ(r.files_downloaded, 4);
  for (const char* f : {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(r.snapshot_dir) / f)) << f;
  EXPECT_FALSE(fs::exists(fs::path(r.snapshot_dir) / "model-00003-of-00003.safetensors"));
  EXPECT_FALSE(fs::exists(fs::path(r.snapshot_dir) / "pytorch_model.bin.index.json"));
  EXPECT_EQ(slurp(fs::path(r.snapshot_dir) / "model-00002-of-00002.safetensors"), "shard two");
}

TEST_F(HubDownload, HostileAnswersNeverWriteOutsideTheRepository) {
  test::FakeHub::Repo repo{kCommit, {}, ""};
  repo.files["config.json"] = {"{}", false, "", false, "\"../../../escape\""};
  hub_.add_repo("org/bad-etag", repo);
  std::string msg = error_of([] { hub_download(*parse_hub_model_id("org/bad-etag"), HubSettings::from_environment()); });
  EXPECT_NE(msg.find("no usable ETag"), std::string::npos) << msg;
  test::FakeHub::Repo sharded{kCommit, {}, ""};
  sharded.files["config.json"] = {"{}", false, ""};
  sharded.files["model.safetensors.index.json"] = {R"({"weight_map": {"a": "../../../../outside.safetensors"}})", false, ""};
  sharded.files["../../../../outside.safetensors"] = {"x", true, ""};  // never listed: not a safe path
  hub_.add_repo("org/bad-index", sharded);
  msg = error_of([] { hub_download(*parse_hub_model_id("org/bad-index"), HubSettings::from_environment()); });
  EXPECT_NE(msg.find("which the repository does not hold"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(cache_.parent_path() / "outside.safetensors"));
  EXPECT_FALSE(fs::exists(cache_ / "escape"));
}

TEST(HubFiles, ChoosesOneWeightsLayoutInTransformersOrder) {
  using V = std::vector<std::string>;
  EXPECT_EQ(hub_files_to_download({"pytorch_model.bin", "model.safetensors", "config.json", "tf_model.h5"}),
            (V{"config.json", "model.safetensors"}));
  EXPECT_EQ(hub_files_to_download({"pytorch_model.bin", "config.json", "flax_model.msgpack"}),
            (V{"config.json", "pytorch_model.bin"}));
  EXPECT_EQ(hub_files_to_download({"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "model.gguf",
                                   "additional_chat_templates/tool_use.jinja", "onnx/model.onnx"}),
            (V{"additional_chat_templates/tool_use.jinja", "pytorch_model.bin.index.json"}));
}

TEST_F(HubDownload, UnreachableHubFallsBackToTheCachedSnapshot) {
  logits("org/llama-tiny");
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);  // nothing listens there
  EXPECT_EQ(logits("org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  const std::string msg = error_of([] { load_model("org/never-downloaded"); });
  EXPECT_NE(msg.find("127.0.0.1:1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not in the Hugging Face cache"), std::string::npos) << msg;
}

#ifdef AUTOLM_CLI
TEST_F(HubDownload, CliDownloadFetchesWithoutRunningAndTheLibraryReusesItOffline) {
  const fs::path out = cache_.string() + ".out";
  const std::string cmd = std::string(AUTOLM_CLI) + " download org/llama-tiny > " + out.string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(out);
  EXPECT_NE(slurp(out).find(snapshot().string()), std::string::npos) << slurp(out);
  fs::remove(out);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(logits("org/llama-tiny"), logits(test::model_dir("llama-tiny")));
  EXPECT_NE(std::system((std::string(AUTOLM_CLI) + " download org/llama-tiny 2>/dev/null").c_str()), 0);
}
#endif

}  // namespace
}  // namespace autolm
