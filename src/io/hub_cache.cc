#include "io/hub_cache.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autolm/error.h"
#include "io/hub_download.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm {

namespace fs = std::filesystem;

namespace {

bool valid_part(const std::string& p) {
  if (p.empty() || p.size() > 96 || p.find("--") != std::string::npos || p.find("..") != std::string::npos) return false;
  if (p.front() == '-' || p.front() == '.' || p.back() == '-' || p.back() == '.') return false;
  for (char c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  return true;
}

std::optional<HubModelId> parse_hub_model_id(const std::string& s) {
  std::string id = s, revision = "main";
  if (auto at = s.find('@'); at != std::string::npos) {
    id = s.substr(0, at);
    revision = s.substr(at + 1);
    // A branch, tag or commit; it becomes refs/<revision> in the cache, so no empty, "." or ".."
    // component, no control character or backslash.
    if (revision.empty() || revision.size() > 256 || revision.front() == '/' || revision.back() == '/' ||
        revision.find("//") != std::string::npos)
      return std::nullopt;
    for (unsigned char c : revision)
      if (c < 0x21 || c == 0x7f || c == '\\') return std::nullopt;
    for (size_t start = 0; start <= revision.size();) {
      size_t end = revision.find('/', start);
      if (end == std::string::npos) end = revision.size();
      const std::string part = revision.substr(start, end - start);
      if (part == "." || part == "..") return std::nullopt;
      start = end + 1;
    }
  }
  const auto slash = id.find('/');
  if (slash == std::string::npos || id.find('/', slash + 1) != std::string::npos) return std::nullopt;
  if (!valid_part(id.substr(0, slash)) || !valid_part(id.substr(slash + 1))) return std::nullopt;
  return HubModelId{id, revision};
}

std::string hub_cache_dir() {
  if (auto v = env("HF_HUB_CACHE"); !v.empty()) return v;
  if (auto v = env("HUGGINGFACE_HUB_CACHE"); !v.empty()) return v;  // the older name huggingface_hub still reads
  if (auto v = env("HF_HOME"); !v.empty()) return v + "/hub";
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface/hub";
  return env("HOME") + "/.cache/huggingface/hub";
}

std::string hub_repo_dir(const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  for (size_t i = 0; (i = folder.find('/', i)) != std::string::npos;) folder.replace(i, 1, "--");
  return hub_cache_dir() + "/" + folder;
}

namespace {

// config.json and a complete weights layout (every shard an index names) in `dir`.
bool snapshot_is_complete(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir + "/config.json", ec)) return false;
  for (const char* weights : {"model.safetensors", "pytorch_model.bin"}) {
    if (fs::exists(dir + "/" + weights, ec)) return true;
    const std::string index = dir + "/" + weights + ".index.json";
    if (!fs::exists(index, ec)) continue;
    try {
      const json j = load_json_file(index);
      if (!j.contains("weight_map") || !j["weight_map"].is_object()) return false;
      for (const auto& [tensor, shard] : j["weight_map"].items())
        if (!shard.is_string() || !fs::exists(dir + "/" + shard.get<std::string>(), ec)) return false;
      return true;
    } catch (const Error&) {
      return false;
    }
  }
  return false;
}

}  // namespace

std::string resolve_pretrained(const std::string& name_or_dir) {
  std::error_code ec;
  if (fs::is_directory(name_or_dir, ec)) return name_or_dir;
  auto id = parse_hub_model_id(name_or_dir);
  if (!id) {
    throw Error(ErrorKind::kNotFound, name_or_dir + " does not exist (neither a folder nor a Hugging Face model id "
                                                    "like \"org/name\" or \"org/name@revision\")");
  }
  const HubSettings settings = HubSettings::from_environment();
  std::string cached = hub_cached_snapshot(*id);
  if (settings.offline) {
    if (!cached.empty()) return cached;
    throw Error(ErrorKind::kNotFound, "model " + id->repo_id + " (revision " + id->revision +
                                          ") is not in the Hugging Face cache " + hub_cache_dir() +
                                          " and HF_HUB_OFFLINE=1 forbids downloading it");
  }
  // Online, a cached snapshot stands in for the Hub only when it can be loaded (an interrupted
  // download leaves a partial one); offline, the loader names the file that is missing.
  if (!cached.empty() && !snapshot_is_complete(cached)) cached.clear();
  if (!cached.empty() && is_commit_hash(id->revision)) return cached;
  try {
    return hub_download(*id, settings).snapshot_dir;
  } catch (const NetworkError& e) {
    if (cached.empty())
      throw Error(ErrorKind::kNotFound, std::string(e.what()) + "; model " + id->repo_id + " (revision " + id->revision +
                                            ") is not in the Hugging Face cache " + hub_cache_dir() + " either");
    std::fprintf(stderr, "warning: %s; using the cached snapshot %s\n", e.what(), cached.c_str());
    return cached;
  } catch (const HubError& e) {
    if (!e.fallback() || cached.empty()) throw;
    std::fprintf(stderr, "warning: %s; using the cached snapshot %s\n", e.what(), cached.c_str());
    return cached;
  }
}

}  // namespace autolm
