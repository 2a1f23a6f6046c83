// Read-only memory map of a whole file (weights are used in place where the dtype allows).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace autolm {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return static_cast<const unsigned char*>(data_); }
  // Drops the pages of [ptr, ptr + len) from this process's resident set (they stay in the
  // page cache): for weights converted at load, whose file bytes are never read again.
  void release(const void* ptr, size_t len) const;
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole text file of at most `max_bytes` (default: InputLimits::config_max_bytes);
// only regular files (a FIFO or device is refused without blocking on it). Throws Error
// (kNotFound / kInvalidInput) naming the path.
std::string read_text_file(const std::string& path, uint64_t max_bytes = 0);
// For a file the user names on the command line (`--messages <(…)`, `/dev/stdin`): pipes and
// character devices are read too, stopping with an error past `max_bytes` (default
// InputLimits::config_max_bytes); directories are refused.
std::string read_user_file(const std::string& path, uint64_t max_bytes = 0);
bool file_exists(const std::string& path);

// `dir/name` for a file that a model folder names (a shard in an index, a tokenizer file):
// `name` must be a relative path without "..", and where it exists its resolved path (symlinks
// followed) must stay inside the folder, or inside the Hugging Face cache repository the folder
// is a snapshot of (snapshots link to ../../blobs). `source` is the file or key that named it.
std::string model_file(const std::string& dir, const std::string& name, const std::string& source);

}  // namespace autolm
