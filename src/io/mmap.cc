#include "io/mmap.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "autolm/error.h"

namespace autolm {

static Error open_error(const std::string& path) {
  int e = errno;
  return Error(e == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInvalidInput,
               "cannot open " + path + ": " + std::strerror(e));
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw open_error(path);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kInvalidInput, path + " is not a regular file");
  }
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

std::string read_text_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(ErrorKind::kInvalidInput, path + " is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw open_error(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace autolm
