// Cache of quantized weights (--dtype int8 / int4 / int4-g64): the matrices a load quantized are
// written to one file per (checkpoint files, format, cache-format version) and memory-mapped by
// the next load of the same checkpoint instead of being quantized again (docs/PERFORMANCE.md,
// "Instant load").
//
// Where: $AUTOLM_CACHE, else $XDG_CACHE_HOME/autolm, else $HOME/.cache/autolm (a folder of its
// own beside the Hugging Face cache; rm -rf it to clear the cache). AUTOLM_NO_CACHE=1 or
// LoadOptions::weight_cache = false (CLI --no-cache) turn it off.
//
// Keyed (the file's header holds the key; any difference is a miss) by the checkpoint files'
// canonical paths, sizes, modification times, inodes and devices, the sha256 of config.json, the
// format and group size, a fingerprint of the quantizer's output on a fixed probe matrix, the
// cache-format version and the autolm version. The file name is a hash of the canonical paths
// and the format, so a changed checkpoint's entry is overwritten rather than kept beside it.
//
// The file is untrusted input: magic, header size, JSON header, key and every tensor's dtype,
// shape, group and byte ranges (inside the file, 64-byte aligned, sized for the shape, no two
// overlapping) are checked before any byte is used; files not owned by this user are ignored.
// Anything wrong is a warning on stderr and the weights are quantized again. Writes are atomic
// (a temporary file in the same folder, fsync, rename): concurrent loads are safe, and a failure
// to write (read-only folder, full disk) is a warning, never an error.
//
// Size cap: after writing an entry, the folder's entries (only files named like this cache's own,
// <32 hex>-<format>-v<N>.autolm-weights, regular and owned by this user; anything else is never
// touched) are deleted least recently used first (by modification time; a load that maps an entry
// touches it) until they total at most weight_cache_max_bytes(). The entry just written is kept;
// one larger than the cap on its own is not written. Deleting an entry another process has mapped
// is safe: on POSIX, unlink removes the name and the mapping keeps the file's pages until munmap.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm {

// Bumped whenever the layout of the file or of a quantized tensor changes.
inline constexpr int kWeightCacheVersion = 1;

// The cache folder ($AUTOLM_CACHE, $XDG_CACHE_HOME/autolm, $HOME/.cache/autolm), or nullopt when
// AUTOLM_NO_CACHE is set (to anything but "" or "0") or no folder can be named.
std::optional<std::string> weight_cache_dir();

// The cap on the cache folder's total size: $AUTOLM_CACHE_MAX_BYTES (a byte count, optionally
// with a K, M, G or T suffix, powers of 1024) or kWeightCacheDefaultMaxBytes when unset; an
// unparsable value is a warning and the default.
inline constexpr uint64_t kWeightCacheDefaultMaxBytes = uint64_t(20) << 30;  // 20 GiB
uint64_t weight_cache_max_bytes();

// Whether `name` (a file name, no folder) is one of this cache's entries.
bool is_weight_cache_entry_name(const std::string& name);

// Deletes `dir`'s entries, oldest modification time first, until they total at most `max_bytes`;
// never `keep` (a full path), never a file that is not an entry of this user. Never throws.
void evict_weight_cache(const std::string& dir, uint64_t max_bytes, const std::string& keep);

class WeightCache {
 public:
  // `format` names the quantization ("int8", "int4", "int4-g64"); `quantizer` is the
  // fingerprint of the quantizer's output (WeightStore computes it); `config_text` the bytes of
  // config.json. Maps `dir`'s entry for these checkpoint files when its key matches; otherwise
  // stays empty (a warning on stderr when the entry exists but cannot be used).
  WeightCache(const std::string& dir, const std::vector<std::string>& files, const std::string& config_text,
              const std::string& format, const std::string& quantizer);
  ~WeightCache();

  // The cached matrix `name` when it is held with this shape, dtype and group (0 for int8);
  // an empty view otherwise.
  TensorView find(const std::string& name, const Shape& shape, DType dtype, int64_t group) const;
  // A matrix quantized by this load (its buffers must live until save()).
  void record(const std::string& name, const TensorView& v);
  // Writes the entry when this load quantized anything that was not in it; never throws
  // (failures are warnings). Called once the model is built.
  void save();

  bool mapped() const { return map_ != nullptr; }
  // Every matrix of the mapped entry (tests and the fuzz target read them all).
  const std::map<std::string, TensorView>& tensors() const { return cached_; }
  const std::string& path() const { return path_; }
  // The header's key for this load (tests compare it).
  const json& key() const { return key_; }

 private:
  // Throws a message when the file cannot be used (a warning for the caller).
  void open_entry();
  std::string path_;
  json key_;
  std::unique_ptr<MappedFile> map_;
  std::map<std::string, TensorView> cached_;   // from the mapped entry
  std::map<std::string, TensorView> fresh_;    // quantized by this load
};

}  // namespace autolm
