#include "io/weight_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>

#include "autolm/version.h"
#include "io/sha256.h"

namespace autolm {

namespace {

// File layout (all integers little-endian):
//   [0, 8)    magic "AUTOLMQW"
//   [8, 16)   header length H
//   [16, 16+H) JSON header {"key": {...}, "tensors": {name: {"dtype": "I8" | "I4", "shape": [rows, cols],
//              "group": g (I4), "qdata": [b, e], "scales": [b, e], "zeros": [b, e] (I4)}}}
//   data section from the first multiple of 4096 at or after 16 + H; the [b, e) ranges are
//   relative to it, 64-byte aligned.
constexpr char kMagic[8] = {'A', 'U', 'T', 'O', 'L', 'M', 'Q', 'W'};
constexpr uint64_t kDataAlign = 4096, kTensorAlign = 64;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

void warn(const std::string& message) { std::fprintf(stderr, "warning: %s\n", message.c_str()); }

// The byte ranges of one cached matrix, in the order they are written.
struct Part {
  const char* field;
  const void* ptr;
  uint64_t bytes;
};
std::vector<Part> parts_of(const TensorView& v) {
  const uint64_t rows = uint64_t(v.shape[0]), cols = uint64_t(v.shape[1]);
  if (v.dtype == DType::kI8) return {{"qdata", v.qdata, rows * cols}, {"scales", v.scales, rows * 4}};
  const uint64_t groups = rows * (cols / uint64_t(v.group));
  return {{"qdata", v.qdata, rows * cols / 2}, {"scales", v.scales, groups * 4}, {"zeros", v.zeros, groups}};
}

bool write_all(int fd, const void* data, uint64_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<uint64_t>(n, 1u << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= uint64_t(w);
  }
  return true;
}

bool write_zeros(int fd, uint64_t n) {
  static const char zeros[kDataAlign] = {};
  while (n > 0) {
    const uint64_t k = std::min<uint64_t>(n, sizeof zeros);
    if (!write_all(fd, zeros, k)) return false;
    n -= k;
  }
  return true;
}

// mkdir -p with 0700 for the folders it creates (the cache holds the user's model weights).
bool make_dirs(const std::string& dir) {
  std::string path;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    path = dir.substr(0, i);
    if (path.empty()) continue;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Temporary files of `prefix` (this entry) left by a writer that died more than an hour ago.
void remove_abandoned(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  const auto now = std::filesystem::file_time_type::clock::now();
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code e;
    if (name.rfind(prefix, 0) == 0 && it->is_regular_file(e) &&
        now - std::filesystem::last_write_time(it->path(), e) > std::chrono::hours(1) && !e)
      std::filesystem::remove(it->path(), e);
  }
}

}  // namespace

uint64_t weight_cache_max_bytes() {
  const std::string v = env("AUTOLM_CACHE_MAX_BYTES");
  if (v.empty()) return kWeightCacheDefaultMaxBytes;
  static const std::regex kForm("([0-9]{1,19})([KMGT]?)", std::regex::icase);
  std::smatch m;
  if (std::regex_match(v, m, kForm)) {
    const std::string unit = m[2].str();
    const int shift = unit.empty() ? 0 : 10 * int(std::string("KMGT").find(char(std::toupper(unit[0]))) + 1);
    const unsigned long long n = std::strtoull(m[1].str().c_str(), nullptr, 10);
    if (n <= (~uint64_t(0) >> shift)) return uint64_t(n) << shift;
  }
  warn("AUTOLM_CACHE_MAX_BYTES=\"" + v + "\" is not a byte count (like 20000000000 or 20G); using " +
       std::to_string(kWeightCacheDefaultMaxBytes >> 30) + "G");
  return kWeightCacheDefaultMaxBytes;
}

bool is_weight_cache_entry_name(const std::string& name) {
  static const std::regex kName("[0-9a-f]{32}-(int8|int4|int4-g64)-v[0-9]{1,9}\\.autolm-weights");
  return std::regex_match(name, kName);
}

void evict_weight_cache(const std::string& dir, uint64_t max_bytes, const std::string& keep) {
  struct Entry {
    int64_t mtime_ns;
    uint64_t bytes;
    std::string path;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_weight_cache_entry_name(name)) continue;  // never a file the cache did not name
    const std::string path = dir + "/" + name;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()) continue;
    total += uint64_t(st.st_size);
    if (path == keep) continue;
    entries.push_back({int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, uint64_t(st.st_size), path});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.path < b.path; });
  for (const Entry& e : entries) {
    if (total <= max_bytes) break;
    // Safe while another process maps it: the mapping keeps the inode's pages until munmap.
    if (::unlink(e.path.c_str()) == 0 || errno == ENOENT) total -= std::min(total, e.bytes);
    else warn("could not remove the weight cache entry " + e.path + ": " + std::strerror(errno));
  }
}

std::optional<std::string> weight_cache_dir() {
  if (const std::string off = env("AUTOLM_NO_CACHE"); !off.empty() && off != "0") return std::nullopt;
  if (auto v = env("AUTOLM_CACHE"); !v.empty()) return v;
  if (auto v = env("XDG_CACHE_HOME"); !v.empty()) return v + "/autolm";
  if (auto v = env("HOME"); !v.empty()) return v + "/.cache/autolm";
  return std::nullopt;
}

WeightCache::WeightCache(const std::string& dir, const std::vector<std::string>& files, const std::string& config_text,
                         const std::string& format, const std::string& quantizer) {
  json file_keys = json::array();
  std::string names;
  for (const auto& f : files) {
    std::error_code ec;
    const std::string canonical = std::filesystem::canonical(f, ec).string();
    struct stat st;
    if (ec || ::stat(canonical.c_str(), &st) != 0) {
      warn("weight cache not used: cannot stat " + f);
      return;
    }
    file_keys.push_back({{"path", canonical},
                         {"size", uint64_t(st.st_size)},
                         {"mtime_ns", uint64_t(st.st_mtim.tv_sec) * 1000000000ull + uint64_t(st.st_mtim.tv_nsec)},
                         {"inode", uint64_t(st.st_ino)},
                         {"device", uint64_t(st.st_dev)}});
    names += canonical + "\n";
  }
  Sha256 config_hash;
  config_hash.update(config_text.data(), config_text.size());
  key_ = {{"cache_version", kWeightCacheVersion},
          {"autolm", version()},
          {"format", format},
          {"quantizer", quantizer},
          {"config_sha256", config_hash.hex_digest()},
          {"files", file_keys}};
  Sha256 name_hash;
  name_hash.update(names.data(), names.size());
  path_ = dir + "/" + name_hash.hex_digest().substr(0, 32) + "-" + format + "-v" + std::to_string(kWeightCacheVersion) +
          ".autolm-weights";
  try {
    open_entry();
    // Touch the entry: eviction removes the least recently used first (by modification time,
    // which, unlike atime, every filesystem keeps); a failure only makes it look older.
    if (map_) ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0);
  } catch (const std::exception& e) {
    warn("ignoring the weight cache " + path_ + ": " + e.what() + "; quantizing again");
    cached_.clear();
    map_.reset();
  }
}

WeightCache::~WeightCache() = default;

void WeightCache::open_entry() {
  struct stat st;
  if (::lstat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return;  // first load: a plain miss
    throw std::runtime_error(std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw std::runtime_error("not a regular file");
  if (st.st_uid != ::geteuid())
    throw std::runtime_error("owned by another user (uid " + std::to_string(st.st_uid) + ")");
  map_ = std::make_unique<MappedFile>(path_);
  struct stat again;  // the file checked is the file mapped (not swapped in between)
  if (::lstat(path_.c_str(), &again) != 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev)
    throw std::runtime_error("replaced while being opened");
  const uint64_t size = map_->size();
  const unsigned char* p = map_->data();
  if (size < 16) throw std::runtime_error("truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(p, kMagic, sizeof kMagic) != 0) throw std::runtime_error("not an autolm weight cache (bad magic)");
  uint64_t header_len = 0;
  for (int i = 15; i >= 8; --i) header_len = (header_len << 8) | p[i];
  if (header_len > input_limits().safetensors_header_max_bytes || header_len > size - 16)
    throw std::runtime_error("header length " + std::to_string(header_len) + " runs past the file's " +
                             std::to_string(size) + " bytes");
  const json header = parse_json(std::string_view(reinterpret_cast<const char*>(p + 16), header_len), path_);
  if (!header.is_object() || !header.contains("key") || !header.contains("tensors") || !header["tensors"].is_object())
    throw std::runtime_error("header lacks \"key\" or \"tensors\"");
  const json& key = header["key"];
  if (key != key_) {
    std::string what = "written for another key";
    if (key.is_object())
      for (const auto& [k, v] : key_.items())
        if (!key.contains(k) || key[k] != v) {
          what = k == "files" ? "the checkpoint files changed (path, size or modification time)"
                              : "written with another " + k + " (" + (key.contains(k) ? key[k].dump() : "none") +
                                    ", now " + v.dump() + ")";
          break;
        }
    throw std::runtime_error("stale: " + what);
  }
  const uint64_t data_start = align_up(16 + header_len, kDataAlign);
  if (data_start > size) throw std::runtime_error("data section starts past the end of the file");
  const uint64_t data_size = size - data_start;
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> ranges;
  for (const auto& [key, t] : header["tensors"].items()) {
    const std::string& name = key;  // clang 14 cannot capture a structured binding in a lambda
    auto fail = [&](const std::string& what) { return std::runtime_error("tensor \"" + name + "\": " + what); };
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array() || t["shape"].size() != 2)
      throw fail("needs a dtype and a 2-D shape");
    const std::string dtype = t["dtype"].get<std::string>();
    if (dtype != "I8" && dtype != "I4") throw fail("unknown dtype \"" + dtype + "\"");
    TensorView v;
    v.dtype = dtype == "I8" ? DType::kI8 : DType::kI4;
    for (const json& d : t["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() == 0 || d.get<uint64_t>() > (uint64_t(1) << 31))
        throw fail("dimension " + d.dump() + " is not an integer in [1, 2^31]");
      v.shape.push_back(d.get<int64_t>());
    }
    if (v.dtype == DType::kI4) {
      if (!t.contains("group") || !t["group"].is_number_unsigned() ||
          (t["group"].get<uint64_t>() != 32 && t["group"].get<uint64_t>() != 64))
        throw fail("int4 group must be 32 or 64");
      v.group = t["group"].get<int64_t>();
      if (v.shape[1] % v.group != 0) throw fail("in_features is not a multiple of the group");
    }
    for (const Part& part : parts_of(v)) {
      if (!t.contains(part.field)) throw fail(std::string("lacks \"") + part.field + "\"");
      const json& r = t[part.field];
      if (!r.is_array() || r.size() != 2 || !r[0].is_number_unsigned() || !r[1].is_number_unsigned())
        throw fail(std::string(part.field) + " must be [begin, end]");
      const uint64_t b = r[0].get<uint64_t>(), e = r[1].get<uint64_t>();
      if (b > e || e > data_size) throw fail(std::string(part.field) + " lies outside the data section (truncated?)");
      if (e - b != part.bytes)
        throw fail(std::string(part.field) + " spans " + std::to_string(e - b) + " bytes, the shape needs " +
                   std::to_string(part.bytes));
      if (b % kTensorAlign != 0) throw fail(std::string(part.field) + " is not 64-byte aligned");
      ranges.push_back({{b, e}, name});
      const unsigned char* at = p + data_start + b;
      if (part.field[0] == 'q') v.qdata = at;
      else if (part.field[0] == 's') v.scales = reinterpret_cast<const float*>(at);
      else v.zeros = at;
    }
    cached_[name] = v;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first.first < ranges[i - 1].first.second)
      throw std::runtime_error("tensors \"" + ranges[i - 1].second + "\" and \"" + ranges[i].second + "\" overlap");
}

TensorView WeightCache::find(const std::string& name, const Shape& shape, DType dtype, int64_t group) const {
  auto it = cached_.find(name);
  if (it == cached_.end()) return {};
  const TensorView& v = it->second;
  if (v.shape != shape || v.dtype != dtype || (dtype == DType::kI4 && v.group != group)) return {};
  return v;
}

void WeightCache::record(const std::string& name, const TensorView& v) {
  if (path_.empty() || (v.dtype != DType::kI8 && v.dtype != DType::kI4) || v.shape.size() != 2) return;
  fresh_[name] = v;
}

void WeightCache::save() {
  if (path_.empty() || fresh_.empty()) return;
  std::map<std::string, TensorView> all = cached_;
  for (const auto& [name, v] : fresh_) all[name] = v;
  // Layout: each part at the next 64-byte boundary of the data section.
  json tensors = json::object();
  std::vector<Part> order;
  uint64_t cursor = 0;
  for (const auto& [name, v] : all) {
    json t = {{"dtype", v.dtype == DType::kI8 ? "I8" : "I4"}, {"shape", v.shape}};
    if (v.dtype == DType::kI4) t["group"] = v.group;
    for (const Part& part : parts_of(v)) {
      cursor = align_up(cursor, kTensorAlign);
      t[part.field] = {cursor, cursor + part.bytes};
      order.push_back(part);
      cursor += part.bytes;
    }
    tensors[name] = std::move(t);
  }
  const std::string header = json{{"key", key_}, {"tensors", tensors}}.dump();
  const uint64_t data_start = align_up(16 + header.size(), kDataAlign);
  const std::string dir = path_.substr(0, path_.rfind('/'));
  auto fail = [&](const std::string& why) {
    warn("could not write the weight cache " + path_ + ": " + why + " (the next load quantizes again)");
  };
  const uint64_t max_bytes = weight_cache_max_bytes();
  if (data_start + cursor > max_bytes)
    return fail(std::to_string(data_start + cursor) + " bytes is more than AUTOLM_CACHE_MAX_BYTES (" +
                std::to_string(max_bytes) + ")");
  if (!make_dirs(dir)) return fail("cannot create the folder " + dir + ": " + std::strerror(errno));
  remove_abandoned(dir, path_.substr(dir.size() + 1) + ".tmp.");
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) == 0 &&
      double(fs.f_bavail) * double(fs.f_frsize) < double(data_start + cursor) * 1.1 + 64e6)
    return fail("not enough free space for " + std::to_string((data_start + cursor) >> 20) + " MiB");
  // Unique per process, load and moment (O_EXCL refuses a clash rather than sharing a file).
  static std::atomic<uint64_t> writes{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string tmp = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(writes++) + "." +
                          std::to_string(stamp);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail(std::strerror(errno));
  unsigned char prefix[16];
  std::memcpy(prefix, kMagic, 8);
  for (int i = 0; i < 8; ++i) prefix[8 + i] = (uint64_t(header.size()) >> (8 * i)) & 0xff;
  bool ok = write_all(fd, prefix, 16) && write_all(fd, header.data(), header.size()) &&
            write_zeros(fd, data_start - 16 - header.size());
  uint64_t at = 0;
  for (size_t i = 0; ok && i < order.size(); ++i) {
    ok = write_zeros(fd, align_up(at, kTensorAlign) - at) && write_all(fd, order[i].ptr, order[i].bytes);
    at = align_up(at, kTensorAlign) + order[i].bytes;
  }
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    return fail(std::strerror(e));
  }
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);  // the rename itself survives a crash
    ::close(dfd);
  }
  fresh_.clear();
  evict_weight_cache(dir, max_bytes, path_);
}

}  // namespace autolm
