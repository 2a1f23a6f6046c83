#include "io/hub_download.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "io/download_progress.h"
#include "io/json_file.h"
#include "io/limits.h"
#include "io/mmap.h"
#include "io/sha256.h"

namespace autolm {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxRedirects = 10;
constexpr size_t kMaxRepoFiles = 100000;   // entries of a repository's file list
constexpr size_t kMaxShards = 10000;       // shards named by a weights index
constexpr int kMaxStalledRetries = 5;      // http_get's _nb_retries: retries without new bytes

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool truthy(const std::string& v) {
  std::string s = v;
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s == "1" || s == "ON" || s == "YES" || s == "TRUE";
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

long env_seconds(const char* name, long fallback) {
  const std::string v = env(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || *end || !(d >= 1 && d <= 3600))
    throw Error(ErrorKind::kInvalidInput, std::string(name) + ": \"" + v + "\" is not a number of seconds (1 to 3600)");
  return long(d);
}

// Percent-encoding as Python's urllib.parse.quote (unreserved characters kept; '/' kept in
// file paths, encoded in revisions as hf_hub_url does).
std::string quote(const std::string& s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "scheme://host:port" (lower-case, default port made explicit): where a token may be sent.
std::string origin(const std::string& url) {
  const auto sep = url.find("://");
  if (sep == std::string::npos) return "";
  std::string scheme = url.substr(0, sep);
  const auto end = url.find_first_of("/?#", sep + 3);
  std::string host = url.substr(sep + 3, end == std::string::npos ? std::string::npos : end - sep - 3);
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  for (auto& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : host) c = char(std::tolower(static_cast<unsigned char>(c)));
  const bool has_port = host.find(':', host.rfind(']') == std::string::npos ? 0 : host.rfind(']')) != std::string::npos;
  if (!has_port) host += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + host;
}

// A Location header resolved against the URL it came from (urljoin for the shapes servers send).
std::string join_url(const std::string& base, const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  const std::string o = base.substr(0, base.find('/', base.find("://") + 3));
  if (location.rfind("//", 0) == 0) return base.substr(0, base.find("://") + 1) + location;
  if (!location.empty() && location[0] == '/') return o + location;
  std::string path = base.substr(0, base.find_first_of("?#"));
  return path.substr(0, path.rfind('/') + 1) + location;
}

// huggingface_hub's _normalize_etag: W/"x" and "x" → x.
std::string normalize_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  while (!etag.empty() && etag.front() == '"') etag.erase(etag.begin());
  while (!etag.empty() && etag.back() == '"') etag.pop_back();
  return etag;
}

bool is_sha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c))) return false;
  return true;
}

// A file name from the Hub's file list used as a path under snapshots/: relative, no "..",
// no empty or hidden-dot components, printable ASCII.
bool safe_repo_path(const std::string& f) {
  if (f.empty() || f.size() > 1024 || f.front() == '/' || f.back() == '/') return false;
  size_t start = 0;
  while (start <= f.size()) {
    size_t end = f.find('/', start);
    if (end == std::string::npos) end = f.size();
    const std::string part = f.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (unsigned char c : f)
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  return true;
}

std::optional<uint64_t> to_u64(const std::string& s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : uint64_t(n);
}

// Writes `text` to `path` through a temporary file and rename (readers never see half a ref).
void write_atomically(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  const fs::path tmp = path.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw Error(ErrorKind::kInvalidInput, tmp.string() + ": cannot write");
  }
  fs::rename(tmp, path);
}

// An advisory lock (flock) on .locks/<repo folder>/<etag>.lock: one process downloads a blob,
// the others wait and find it done (huggingface_hub's WeakFileLock on the same path).
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(ErrorKind::kInvalidInput, path.string() + ": cannot create the download lock");
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) break;  // a file system without locks: proceed as huggingface_hub does
    }
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// The repository's folder name in .locks/ and the cache: models--org--name.
std::string repo_folder(const std::string& repo_id) {
  std::string folder = "models--" + repo_id;
  for (size_t i = 0; (i = folder.find('/', i)) != std::string::npos;) folder.replace(i, 1, "--");
  return folder;
}

class HubClient {
 public:
  HubClient(const HubModelId& id, const HubSettings& s) : id_(id), s_(s), repo_dir_(hub_repo_dir(id.repo_id)) {
    trusted_ = {origin(s.endpoint), origin("https://huggingface.co"), origin("https://hf.co")};
  }

  // GET api/models/{repo}/revision/{rev}?blobs=true → commit and files (with sizes).
  void fetch_file_list() {
    const std::string url = s_.endpoint + "/api/models/" + id_.repo_id + "/revision/" + quote(id_.revision, false) +
                            "?blobs=true";
    std::string body;
    const uint64_t limit = input_limits().config_max_bytes;
    HttpResponse r = request("GET", url, [&](const char* p, size_t n) {
      if (body.size() + n > limit) return false;
      body.append(p, n);
      return true;
    }, /*follow_any=*/true);
    raise_for_status(r, url, "");
    const json info = parse_json(body, url_for_messages(url));
    const std::string where = url_for_messages(url);
    if (!info.is_object() || !info.contains("sha") || !info["sha"].is_string() || !is_commit_hash(info["sha"].get<std::string>()))
      throw Error(ErrorKind::kInvalidInput, where + ": the answer has no commit \"sha\" (is HF_ENDPOINT a Hugging Face Hub?)");
    commit_ = info["sha"].get<std::string>();
    {
      // The file list decides what is fetched and which optional files are marked absent.
      if (!info.contains("siblings") || !info["siblings"].is_array())
        throw Error(ErrorKind::kInvalidInput, where + ": the answer has no \"siblings\" file list (is HF_ENDPOINT a "
                                                      "Hugging Face Hub?)");
      const json& sib = info["siblings"];
      if (sib.size() > kMaxRepoFiles)
        throw Error(ErrorKind::kInvalidInput, where + ": more than " + std::to_string(kMaxRepoFiles) + " files");
      for (const json& f : sib) {
        if (!f.is_object() || !f.contains("rfilename") || !f["rfilename"].is_string())
          throw Error(ErrorKind::kInvalidInput, where + ": a file entry without \"rfilename\"");
        const std::string name = f["rfilename"].get<std::string>();
        if (!safe_repo_path(name)) continue;  // never used as a path
        files_.push_back(name);
        if (f.contains("size") && f["size"].is_number_unsigned()) sizes_[name] = f["size"].get<uint64_t>();
      }
    }
  }

  const std::string& commit() const { return commit_; }
  const std::vector<std::string>& files() const { return files_; }
  uint64_t listed_size(const std::string& f) const {
    auto it = sizes_.find(f);
    return it == sizes_.end() ? 0 : it->second;
  }
  fs::path snapshot() const { return fs::path(repo_dir_) / "snapshots" / commit_; }

  void write_ref() {
    if (id_.revision == commit_) return;
    const fs::path ref = fs::path(repo_dir_) / "refs" / id_.revision;
    std::error_code ec;
    if (fs::is_regular_file(ref, ec) && trim(read_text_file(ref.string(), 4096)) == commit_) return;
    write_atomically(ref, commit_);
  }

  void mark_absent(const std::string& file, const std::string& commit) {
    const fs::path marker = fs::path(repo_dir_) / ".no_exist" / commit / file;
    std::error_code ec;
    if (fs::exists(marker, ec)) return;
    fs::create_directories(marker.parent_path(), ec);
    std::ofstream touch(marker);
  }

  // hf_hub_download for one file of the commit: returns the bytes fetched (0 when cached).
  uint64_t download(const std::string& file) {
    const fs::path pointer = snapshot() / file;
    std::error_code ec;
    if (fs::exists(pointer, ec)) return 0;
    const std::string url = s_.endpoint + "/" + id_.repo_id + "/resolve/" + commit_ + "/" + quote(file, true);

    // HEAD: follow redirects that stay on the Hub; a redirect elsewhere (the CDN) carries the
    // metadata itself and is where the bytes are.
    std::string location = url;
    HttpResponse head;
    for (int hop = 0;; ++hop) {
      head = request("HEAD", location, nullptr, false);
      if (head.status / 100 != 3 || head.header("location").empty()) break;
      const std::string target = join_url(location, head.header("location"));
      if (!trusted(target)) {
        location = target;
        break;
      }
      if (hop >= kMaxRedirects) throw NetworkError(url_for_messages(url) + ": more than 10 redirects");
      location = target;
    }
    if (head.status == 404 && head.header("x-error-code") == "EntryNotFound") {
      const std::string commit = head.header("x-repo-commit");
      if (is_commit_hash(commit)) mark_absent(file, commit);
      // An optional file the listing named but the Hub does not serve: recorded, not fatal.
      const auto& optional = hub_optional_files();
      if (file != "config.json" && std::find(optional.begin(), optional.end(), file) != optional.end()) return 0;
    }
    raise_for_status(head, url, file);
    if (head.header("x-repo-commit").empty())
      throw Error(ErrorKind::kInvalidInput, url_for_messages(url) + ": the answer has no X-Repo-Commit header, so it "
                                            "does not come from a Hugging Face Hub (check HF_ENDPOINT, proxies)");
    const bool lfs = !head.header("x-linked-etag").empty();
    const std::string etag = normalize_etag(lfs ? head.header("x-linked-etag") : head.header("etag"));
    if (etag.empty() || etag.size() > 128 ||
        !std::all_of(etag.begin(), etag.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }))
      throw Error(ErrorKind::kInvalidInput, url_for_messages(url) + ": no usable ETag (\"" + etag.substr(0, 80) + "\")");
    std::optional<uint64_t> size = to_u64(head.header("x-linked-size"));
    if (!size && head.status / 100 != 3) size = to_u64(head.header("content-length"));

    const fs::path blob = fs::path(repo_dir_) / "blobs" / etag;
    fs::create_directories(blob.parent_path());
    fs::create_directories(pointer.parent_path());
    uint64_t fetched = 0;
    {
      FileLock lock(hub_cache_dir() + "/.locks/" + repo_folder(id_.repo_id) + "/" + etag + ".lock");
      if (!fs::exists(blob, ec)) fetched = fetch_blob(location, file, blob, size, lfs && is_sha256(etag) ? etag : "");
    }
    link_pointer(blob, pointer, file);
    return fetched;
  }

 private:
  bool trusted(const std::string& url) const { return trusted_.count(origin(url)) > 0; }

  // One request; redirects followed only when `follow_any` (the API and file GETs), the token
  // sent only to Hub origins (never to a CDN a redirect points to).
  HttpResponse request(const std::string& method, std::string url, const HttpBodySink& sink, bool follow_any,
                       const std::vector<std::string>& extra = {}, const HttpHeadersSink& on_headers = nullptr) {
    for (int hop = 0;; ++hop) {
      std::vector<std::string> headers = extra;
      headers.push_back("Accept-Encoding: identity");
      if (!s_.token.empty() && trusted(url)) headers.push_back("Authorization: Bearer " + s_.token);
      HttpResponse r = http_request(method, url, headers, sink ? sink : [](const char*, size_t) { return true; },
                                    s_.http, on_headers);
      if (!follow_any || r.status / 100 != 3 || r.header("location").empty()) return r;
      if (hop >= kMaxRedirects) throw NetworkError(url_for_messages(url) + ": more than 10 redirects");
      url = join_url(url, r.header("location"));
    }
  }

  // hf_raise_for_status, with messages that say what to do.
  void raise_for_status(const HttpResponse& r, const std::string& url, const std::string& file) const {
    if (r.status / 100 == 2 || r.status / 100 == 3) return;
    const std::string code = r.header("x-error-code"), where = url_for_messages(url);
    const std::string repo = id_.repo_id, page = s_.endpoint + "/" + repo;
    const std::string token_note =
        s_.token.empty() ? "no token was sent: set HF_TOKEN=hf_… or run `huggingface-cli login` (it writes " +
                               s_.token_path + ")"
                         : "the token from " + s_.token_source + " was sent and has no access to it";
    if (code == "GatedRepo")
      throw HubError(ErrorKind::kInvalidInput,
                     repo + " is a gated model (HTTP " + std::to_string(r.status) + " for " + where +
                         "): accept its licence on " + page + " while logged in to the Hub, then give autolm a token "
                         "of that account; " + token_note, true);
    if (code == "RevisionNotFound")
      throw HubError(ErrorKind::kNotFound, "revision \"" + id_.revision + "\" not found in " + repo + " (" + where + ")", false);
    if (code == "EntryNotFound" || (r.status == 404 && !file.empty() && code != "RepoNotFound"))
      throw HubError(ErrorKind::kNotFound, repo + "@" + id_.revision + ": file " + file + " not found (" + where + ")", false);
    if (code == "RepoNotFound" || r.status == 401 || r.status == 404)
      throw HubError(ErrorKind::kNotFound,
                     "repository " + repo + " not found at " + s_.endpoint + " (HTTP " + std::to_string(r.status) +
                         " for " + where + "); if it is private or gated, " + token_note, true);
    if (r.status == 403)
      throw HubError(ErrorKind::kInvalidInput, "access to " + repo + " refused (HTTP 403 for " + where + "); " + token_note, true);
    if (r.status == 429 || r.status / 100 == 5)
      throw NetworkError("the Hub answered HTTP " + std::to_string(r.status) + " for " + where);
    throw HubError(ErrorKind::kInvalidInput, "HTTP " + std::to_string(r.status) + " for " + where, true);
  }

  // Downloads to blob.incomplete (resuming what an interrupted run left), checks size and
  // sha256, renames into place.
  uint64_t fetch_blob(const std::string& url, const std::string& file, const fs::path& blob,
                      std::optional<uint64_t> size, const std::string& sha256) {
    const fs::path part = blob.string() + ".incomplete";
    check_disk_space(blob.parent_path(), size.value_or(0), file);
    uint64_t have = file_size_or_zero(part.string());
    if (size && have > *size) have = 0;  // not a prefix of this file
    Sha256 hasher;
    int fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(ErrorKind::kInvalidInput, part.string() + ": cannot write");
    struct Closer { int fd; ~Closer() { ::close(fd); } } closer{fd};
    auto restart = [&] {
      have = 0;
      hasher = Sha256();
      return ::ftruncate(fd, 0) == 0 && ::lseek(fd, 0, SEEK_SET) == 0;
    };
    if (have > 0) {  // hash the bytes already there, then append
      std::vector<char> buf(size_t(1) << 20);
      uint64_t left = have;
      ::lseek(fd, 0, SEEK_SET);
      while (left > 0) {
        const ssize_t n = ::read(fd, buf.data(), size_t(std::min<uint64_t>(left, buf.size())));
        if (n <= 0) break;
        hasher.update(buf.data(), size_t(n));
        left -= uint64_t(n);
      }
      if (left != 0 && !restart()) throw Error(ErrorKind::kInvalidInput, part.string() + ": cannot write");
    } else if (!restart()) {
      throw Error(ErrorKind::kInvalidInput, part.string() + ": cannot write");
    }
    ::lseek(fd, off_t(have), SEEK_SET);
    const uint64_t started_at = have;
    DownloadProgress& progress = DownloadProgress::global();
    const int bar = progress.start(file, size.value_or(0), have);
    const uint64_t cap = size.value_or(uint64_t(1) << 42);  // a file may not grow past its announced size
    bool write_failed = false, ignored_range = false;
    int stalled = 0;
    try {
      for (;;) {
        const uint64_t before = have;
        std::vector<std::string> extra;
        if (have > 0) extra.push_back("Range: bytes=" + std::to_string(have) + "-");
        HttpResponse r;
        try {
          r = request("GET", url, [&](const char* p, size_t n) {
            if (ignored_range) {  // the server sent the whole file: start over (huggingface_hub does)
              ignored_range = false;
              if (!restart()) return write_failed = true, false;
            }
            if (have + n > cap) return false;
            for (size_t off = 0; off < n;) {
              const ssize_t w = ::write(fd, p + off, n - off);
              if (w <= 0) return write_failed = true, false;
              off += size_t(w);
            }
            hasher.update(p, n);
            have += n;
            progress.update(bar, have);
            return true;
          }, true, extra, [&](const HttpResponse& h) { ignored_range = have > 0 && h.status == 200; });
        } catch (const NetworkError& e) {
          if (write_failed) throw Error(ErrorKind::kInvalidInput, part.string() + ": write failed (disk full?)");
          if (have > cap) throw Error(ErrorKind::kInvalidInput, url_for_messages(url) + ": more bytes than announced");
          stalled = have > before ? 0 : stalled + 1;
          if (stalled > kMaxStalledRetries) throw;
          std::this_thread::sleep_for(std::chrono::milliseconds(have > before ? 0 : 1000));
          continue;  // resume with Range from `have`
        }
        if (r.status == 416 && have > 0) {  // asked past the end: the partial file cannot be trusted
          if (!restart()) throw Error(ErrorKind::kInvalidInput, part.string() + ": cannot write");
          continue;
        }
        raise_for_status(r, url, file);
        break;
      }
    } catch (...) {
      progress.finish(bar, false);
      throw;
    }
    progress.finish(bar, true);
    if (size && have != *size)
      throw Error(ErrorKind::kInvalidInput, url_for_messages(url) + ": " + file + " should be " +
                                                std::to_string(*size) + " bytes but " + std::to_string(have) +
                                                " arrived (network problem; run again to resume)");
    if (!sha256.empty()) {
      const std::string got = hasher.hex_digest();
      if (got != sha256) {
        ::ftruncate(fd, 0);
        std::error_code ec;
        fs::remove(part, ec);
        throw Error(ErrorKind::kInvalidInput, url_for_messages(url) + ": " + file + " has sha256 " + got +
                                                  " but the Hub announced " + sha256 +
                                                  " (X-Linked-Etag); the download was discarded");
      }
    }
    ::fchmod(fd, 0644 & ~current_umask());
    fs::rename(part, blob);
    return have - started_at;
  }

  static mode_t current_umask() {
    static const mode_t m = [] {
      const mode_t u = ::umask(022);
      ::umask(u);
      return u;
    }();
    return m;
  }

  void check_disk_space(const fs::path& dir, uint64_t need, const std::string& file) const {
    struct statvfs st;
    if (need == 0 || ::statvfs(dir.c_str(), &st) != 0) return;
    const uint64_t free_bytes = uint64_t(st.f_bavail) * uint64_t(st.f_frsize);
    if (free_bytes < need)
      throw Error(ErrorKind::kInvalidInput, "not enough disk space in " + dir.string() + " for " + file + " (" +
                                                human_bytes(double(need)) + " needed, " +
                                                human_bytes(double(free_bytes)) + " free)");
  }

  // snapshots/<commit>/<file> → relative link to blobs/<etag> (_create_symlink).
  void link_pointer(const fs::path& blob, const fs::path& pointer, const std::string& file) const {
    std::error_code ec;
    if (fs::exists(pointer, ec)) return;
    const fs::path target = fs::relative(blob, pointer.parent_path(), ec);
    if (ec) throw Error(ErrorKind::kInvalidInput, pointer.string() + ": cannot link to " + blob.string());
    const fs::path tmp = pointer.string() + "." + std::to_string(::getpid()) + ".tmp";
    fs::remove(tmp, ec);
    fs::create_symlink(target, tmp, ec);
    if (!ec) fs::rename(tmp, pointer, ec);
    if (ec) throw Error(ErrorKind::kInvalidInput, pointer.string() + ": cannot create the link for " + file + " (" + ec.message() + ")");
  }

  HubModelId id_;
  const HubSettings& s_;
  std::string repo_dir_, commit_;
  std::set<std::string> trusted_;
  std::vector<std::string> files_;
  std::map<std::string, uint64_t> sizes_;
};

// The shards a downloaded index names, each checked against the repository's file list.
std::vector<std::string> shards_named_by(const fs::path& index, const std::set<std::string>& listed) {
  const json j = load_json_file(index.string());
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(ErrorKind::kInvalidInput, index.string() + ": no \"weight_map\" object");
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : j["weight_map"].items()) {
    if (!shard.is_string()) throw Error(ErrorKind::kInvalidInput, index.string() + ": weight_map[\"" + tensor + "\"] is not a file name");
    const std::string name = shard.get<std::string>();
    if (!listed.count(name))
      throw Error(ErrorKind::kInvalidInput, index.string() + ": weight_map names " + name + ", which the repository does not hold");
    shards.insert(name);
    if (shards.size() > kMaxShards)
      throw Error(ErrorKind::kInvalidInput, index.string() + ": more than " + std::to_string(kMaxShards) + " shards");
  }
  return {shards.begin(), shards.end()};
}

// Runs `job(i)` for i in [0, n) on up to `workers` threads; the first exception is rethrown
// here once every thread has stopped (none escapes a thread).
void parallel_jobs(size_t n, int workers, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr first;
  auto run = [&] {
    for (size_t i; !failed && (i = next++) < n;) {
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> threads;
  const size_t count = std::min<size_t>(n, size_t(std::max(1, workers)));
  for (size_t t = 1; t < count; ++t) threads.emplace_back(run);
  run();
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

}  // namespace

HubSettings HubSettings::from_environment() {
  HubSettings s;
  if (auto e = env("HF_ENDPOINT"); !e.empty()) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0)
      throw Error(ErrorKind::kInvalidInput, "HF_ENDPOINT: \"" + e + "\" is not an http:// or https:// URL");
    s.endpoint = e;
  }
  s.offline = truthy(env("HF_HUB_OFFLINE")) || truthy(env("TRANSFORMERS_OFFLINE"));
  std::string home = env("HF_HOME");
  if (home.empty()) home = (env("XDG_CACHE_HOME").empty() ? env("HOME") + "/.cache" : env("XDG_CACHE_HOME")) + "/huggingface";
  s.token_path = env("HF_TOKEN_PATH").empty() ? home + "/token" : env("HF_TOKEN_PATH");
  if (auto t = trim(env("HF_TOKEN")); !t.empty()) {
    s.token = t, s.token_source = "HF_TOKEN";
  } else if (auto t2 = trim(env("HUGGING_FACE_HUB_TOKEN")); !t2.empty()) {
    s.token = t2, s.token_source = "HUGGING_FACE_HUB_TOKEN";
  } else {
    std::error_code ec;
    if (fs::is_regular_file(s.token_path, ec)) {
      s.token = trim(read_text_file(s.token_path, 4096));
      s.token_source = s.token_path;
    }
  }
  for (unsigned char c : s.token)
    if (c < 0x21 || c > 0x7e)
      throw Error(ErrorKind::kInvalidInput, "the Hub token from " + s.token_source +
                                                " contains a space or control character (refused: it would go into an HTTP header)");
  s.http.connect_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", 10);
  s.http.stall_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", 10);
  if (auto w = env("AUTOLM_DOWNLOAD_WORKERS"); !w.empty()) {
    auto v = to_u64(w);
    if (!v || *v < 1 || *v > 64) throw Error(ErrorKind::kInvalidInput, "AUTOLM_DOWNLOAD_WORKERS: \"" + w + "\" (1 to 64)");
    s.max_workers = int(*v);
  }
  return s;
}

const std::vector<std::string>& hub_optional_files() {
  static const std::vector<std::string> v = {
      "config.json",          "generation_config.json", "tokenizer.json",     "tokenizer_config.json",
      "special_tokens_map.json", "added_tokens.json",   "vocab.json",         "merges.txt",
      "vocab.txt",            "tokenizer.model",        "spiece.model",       "sentencepiece.bpe.model",
      "source.spm",           "target.spm",             "chat_template.jinja", "chat_template.json"};
  return v;
}

std::vector<std::string> hub_files_to_download(const std::vector<std::string>& siblings) {
  const std::set<std::string> listed(siblings.begin(), siblings.end());
  std::vector<std::string> out;
  for (const auto& f : hub_optional_files())
    if (listed.count(f)) out.push_back(f);
  for (const auto& f : siblings)
    if (f.rfind("additional_chat_templates/", 0) == 0 && f.size() > 6 && f.compare(f.size() - 6, 6, ".jinja") == 0 &&
        f.find('/', 26) == std::string::npos)
      out.push_back(f);
  for (const char* weights : {"model.safetensors", "pytorch_model.bin"}) {
    if (listed.count(weights)) {
      out.push_back(weights);
      break;
    }
    if (listed.count(std::string(weights) + ".index.json")) {
      out.push_back(std::string(weights) + ".index.json");
      break;
    }
  }
  return out;
}

std::string hub_cached_snapshot(const HubModelId& id) {
  const std::string repo = hub_repo_dir(id.repo_id);
  std::string commit = id.revision;
  std::error_code ec;
  if (!is_commit_hash(commit)) {
    const std::string ref = repo + "/refs/" + id.revision;
    if (!fs::is_regular_file(ref, ec)) return "";
    commit = trim(read_text_file(ref, 4096));
    if (!is_commit_hash(commit))
      throw Error(ErrorKind::kInvalidInput, ref + ": not a commit hash (\"" + commit.substr(0, 64) + "\")");
  }
  const std::string snapshot = repo + "/snapshots/" + commit;
  return fs::is_directory(snapshot, ec) ? snapshot : "";
}

HubDownloadReport hub_download(const HubModelId& id, const HubSettings& settings) {
  if (settings.offline)
    throw Error(ErrorKind::kInvalidInput, "HF_HUB_OFFLINE is set: " + id.repo_id + " cannot be downloaded");
  HubClient hub(id, settings);
  hub.fetch_file_list();
  hub.write_ref();
  const std::vector<std::string> listed = hub.files();
  const std::set<std::string> listed_set(listed.begin(), listed.end());
  std::vector<std::string> wanted = hub_files_to_download(listed);

  HubDownloadReport report;
  report.commit = hub.commit();
  report.snapshot_dir = hub.snapshot().string();
  std::error_code ec;
  fs::create_directories(hub.snapshot(), ec);
  if (ec) throw Error(ErrorKind::kInvalidInput, hub.snapshot().string() + ": cannot create (" + ec.message() + ")");
  // Optional files absent upstream are recorded as huggingface_hub records a 404.
  for (const auto& f : hub_optional_files())
    if (!listed_set.count(f)) hub.mark_absent(f, hub.commit());

  std::atomic<int> files{0};
  std::atomic<uint64_t> bytes{0};
  auto fetch_all = [&](const std::vector<std::string>& batch) {
    std::vector<std::string> missing;
    uint64_t total = 0;
    for (const auto& f : batch)
      if (!fs::exists(hub.snapshot() / f, ec)) missing.push_back(f), total += hub.listed_size(f);
    if (missing.empty()) return;
    DownloadProgress::global().note("Downloading " + std::to_string(missing.size()) + " file" +
                                    (missing.size() == 1 ? "" : "s") + (total ? " (" + human_bytes(double(total)) + ")" : "") +
                                    " of " + id.repo_id + "@" + hub.commit().substr(0, 8) + " into " + hub_cache_dir());
    parallel_jobs(missing.size(), settings.max_workers, [&](size_t i) {
      const uint64_t n = hub.download(missing[i]);
      if (n) files++, bytes += n;
    });
  };
  fetch_all(wanted);
  // Shards come from the index, once it is in the snapshot.
  for (const auto& f : wanted)
    if (f.size() > 11 && f.compare(f.size() - 11, 11, ".index.json") == 0)
      fetch_all(shards_named_by(hub.snapshot() / f, listed_set));
  report.files_downloaded = files;
  report.bytes_downloaded = bytes;
  return report;
}

}  // namespace autolm
