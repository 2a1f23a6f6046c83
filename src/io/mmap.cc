#include "io/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <cstring>

#include "autolm/error.h"
#include "io/limits.h"

namespace autolm {

static Error open_error(const std::string& path) {
  int e = errno;
  return Error(e == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInvalidInput,
               "cannot open " + path + ": " + std::strerror(e));
}

// Opens a regular file for reading. O_NONBLOCK: opening a FIFO must not wait for a writer;
// anything but a regular file is then refused by fstat.
static int open_regular(const std::string& path, struct stat& st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw open_error(path);
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const bool dir = S_ISDIR(st.st_mode);
    ::close(fd);
    throw Error(ErrorKind::kInvalidInput,
                path + (dir ? " is a directory, expected a file" : " is not a regular file (a FIFO, device or socket)"));
  }
  return fd;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  struct stat st;
  int fd = open_regular(path, st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      ::close(fd);
      throw Error(ErrorKind::kInvalidInput, "cannot mmap " + path + ": " + std::strerror(errno));
    }
  }
  ::close(fd);
}

void MappedFile::release(const void* ptr, size_t len) const {
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGE_SIZE));
  uintptr_t begin = (reinterpret_cast<uintptr_t>(ptr) + page - 1) & ~(page - 1);  // whole pages only
  const uintptr_t end = (reinterpret_cast<uintptr_t>(ptr) + len) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

std::string read_text_file(const std::string& path, uint64_t max_bytes) {
  if (max_bytes == 0) max_bytes = input_limits().config_max_bytes;
  struct stat st;
  int fd = open_regular(path, st);
  if (uint64_t(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(ErrorKind::kInvalidInput, path + " is " + std::to_string(uint64_t(st.st_size)) +
                                              " bytes, over the limit of " + std::to_string(max_bytes) +
                                              " (see docs/SECURITY.md to raise it)");
  }
  std::string out(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the file shrank while being read: keep what is there
    got += size_t(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

std::string read_user_file(const std::string& path, uint64_t max_bytes) {
  if (max_bytes == 0) max_bytes = input_limits().config_max_bytes;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return read_text_file(path, max_bytes);
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(ErrorKind::kInvalidInput, path + " is a directory, expected a file");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // a pipe the user set up: blocking is intended
  if (fd < 0) throw open_error(path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() + uint64_t(n) > max_bytes) {
      ::close(fd);
      throw Error(ErrorKind::kInvalidInput, path + " holds more than " + std::to_string(max_bytes) +
                                                " bytes, over the limit (see docs/SECURITY.md to raise it)");
    }
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

std::string model_file(const std::string& dir, const std::string& name, const std::string& source) {
  namespace fs = std::filesystem;
  const fs::path rel(name);
  bool plain = !name.empty() && rel.is_relative() && name.find('\0') == std::string::npos;
  for (const auto& part : rel)
    if (part == "..") plain = false;
  if (!plain)
    throw Error(ErrorKind::kInvalidInput, source + ": file name \"" + name +
                                              "\" must be a relative path inside the model folder (no \"..\", not absolute)");
  const std::string path = dir + "/" + name;
  std::error_code ec;
  if (!fs::exists(path, ec)) return path;
  const fs::path real = fs::canonical(path, ec);
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return path;  // open() reports the error with the path
  auto inside = [](const fs::path& p, const fs::path& base) {
    auto [b, _] = std::mismatch(base.begin(), base.end(), p.begin(), p.end());
    return b == base.end();
  };
  if (inside(real, root)) return path;
  const char* allow = std::getenv("AUTOLM_ALLOW_EXTERNAL_LINKS");
  if (allow && std::string(allow) == "1") return path;
  // A Hugging Face cache snapshot (<cache>/models--org--name/snapshots/<rev>): files are links
  // into <cache>/models--org--name/blobs.
  const fs::path repo = root.parent_path().parent_path();
  if (root.parent_path().filename() == "snapshots" && repo.filename().string().rfind("models--", 0) == 0 &&
      inside(real, repo / "blobs"))
    return path;
  throw Error(ErrorKind::kInvalidInput, source + ": \"" + name + "\" resolves to " + real.string() +
                                            ", outside the model folder " + root.string() +
                                            " (set AUTOLM_ALLOW_EXTERNAL_LINKS=1 to allow links out of it)");
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace autolm
