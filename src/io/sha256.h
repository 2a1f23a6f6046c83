// SHA-256 (FIPS 180-4), streamed: the Hub names an LFS file's blob by the sha256 of its bytes
// (X-Linked-Etag), and a download is checked against it before it enters the cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace autolm {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // Lower-case hex digest (64 characters); the object is spent afterwards.
  std::string hex_digest();

 private:
  void block(const unsigned char* p);
  uint32_t h_[8];
  unsigned char buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// sha256 of a whole file, read in chunks; throws Error naming the path.
std::string sha256_file(const std::string& path);

}  // namespace autolm
