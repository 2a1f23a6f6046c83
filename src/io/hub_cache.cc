#include "io/hub_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autolm/error.h"
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

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::optional<HubModelId> parse_hub_model_id(const std::string& s) {
  std::string id = s, revision = "main";
  if (auto at = s.find('@'); at != std::string::npos) {
    id = s.substr(0, at);
    revision = s.substr(at + 1);
    if (revision.empty() || revision.size() > 256 || revision.find("..") != std::string::npos ||
        revision.find('\0') != std::string::npos || revision.front() == '/')
      return std::nullopt;
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

std::string resolve_pretrained(const std::string& name_or_dir) {
  std::error_code ec;
  if (fs::is_directory(name_or_dir, ec)) return name_or_dir;
  auto id = parse_hub_model_id(name_or_dir);
  if (!id) {
    throw Error(ErrorKind::kNotFound, name_or_dir + " does not exist (neither a folder nor a Hugging Face model id "
                                                    "like \"org/name\" or \"org/name@revision\")");
  }
  const std::string repo = hub_repo_dir(id->repo_id);
  std::string commit = id->revision;
  if (!is_commit_hash(commit)) {
    // refs/<revision> holds the commit the branch or tag pointed to when it was downloaded.
    const std::string ref = repo + "/refs/" + id->revision;
    if (fs::is_regular_file(ref, ec)) {
      commit = read_text_file(ref, 4096);
      while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
      if (!is_commit_hash(commit))
        throw Error(ErrorKind::kInvalidInput, ref + ": not a commit hash (\"" + commit.substr(0, 64) + "\")");
    } else {
      commit.clear();
    }
  }
  const std::string snapshot = repo + "/snapshots/" + commit;
  if (!commit.empty() && fs::is_directory(snapshot, ec)) return snapshot;
  const bool offline = env("HF_HUB_OFFLINE") == "1" || env("TRANSFORMERS_OFFLINE") == "1";
  throw Error(ErrorKind::kNotFound,
              "model " + id->repo_id + " (revision " + id->revision + ") is not in the Hugging Face cache " +
                  hub_cache_dir() + (offline ? " and HF_HUB_OFFLINE=1 forbids downloading it" :
                                               "; download it first (e.g. `huggingface-cli download " + id->repo_id +
                                                   "`; autolm does not download models yet)"));
}

}  // namespace autolm
