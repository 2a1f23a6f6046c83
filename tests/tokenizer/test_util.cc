// Fixture helpers: gunzip with zlib into a per-user temp folder, atomically (tests may run in
// parallel processes), and cache loaded tokenizers per process.
#include "tokenizer/test_util.h"

#include "fixture_paths.h"

#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

namespace autolm::test {
namespace fs = std::filesystem;

std::string fixtures_dir() { return AUTOLM_FIXTURES; }

std::string tokenizer_dir(const std::string& name) { return fixture_path("tokenizers/" + name); }
bool have_tokenizer(const std::string& name) { return !tokenizer_dir(name).empty(); }

static std::string gunzip_to(const std::string& gz, const std::string& out) {
  if (fs::exists(out)) return out;
  fs::create_directories(fs::path(out).parent_path());
  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  gzFile f = gzopen(gz.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + gz);
  std::ofstream o(tmp, std::ios::binary);
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) o.write(buf, n);
  gzclose(f);
  o.close();
  if (n < 0) throw std::runtime_error("gunzip failed for " + gz);
  fs::rename(tmp, out);
  return out;
}

std::string tokenizer_json_path(const std::string& name) {
  std::string dir = tokenizer_dir(name);
  if (dir.empty()) throw std::runtime_error("tokenizer fixture " + name + " is in neither tests/data/fixtures nor ../shared/fixtures");
  if (fs::exists(dir + "/tokenizer.json")) return dir + "/tokenizer.json";
  std::string out = (fs::temp_directory_path() / ("autolm-tok-fixtures-" + std::to_string(::getuid())) / name /
                     "tokenizer.json").string();
  return gunzip_to(dir + "/tokenizer.json.gz", out);
}

std::string tokenizer_config_path(const std::string& name) {
  return tokenizer_dir(name) + "/tokenizer_config.json";
}

std::shared_ptr<const Tokenizer> load_fixture_tokenizer(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  std::lock_guard lock(mu);
  auto& t = cache[name];
  if (!t) t = Tokenizer::from_file(tokenizer_json_path(name), tokenizer_config_path(name));
  return t;
}

nlohmann::json load_ref(const std::string& name) {
  std::ifstream in(fixture_path("refs/tokenizers/" + name + ".json"));
  if (!in) throw std::runtime_error("missing ref " + name);
  return nlohmann::json::parse(in);
}

std::shared_ptr<const Tokenizer> tokenizer_from(const nlohmann::json& j) {
  return Tokenizer::from_json_string(j.dump());
}

}  // namespace autolm::test
