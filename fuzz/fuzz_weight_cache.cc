// Fuzz target: an entry of the cache of quantized weights (io/weight_cache.h) → WeightCache,
// touching the first and last byte of every range the tensor table points at, so that ASan
// checks them against the mapping. The key cannot be guessed (it holds a file's inode and
// mtime), so the input is the header with `"key":"$KEY"` where the key goes, a blank line, then
// the data section; an input starting with "RAW" is the whole file as is (magic, header length).
#include <cstring>

#include "fuzz_common.h"
#include "io/weight_cache.h"

using namespace autolm;

namespace {

fuzz::TempDir& dir() {
  static fuzz::TempDir d;
  return d;
}

const std::string& checkpoint() {  // the file the key describes
  static const std::string path = [] {
    const std::string p = dir() / "model.safetensors";
    fuzz::write_file(p, "checkpoint");
    return p;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string cache = dir() / "cache";
  fs::create_directories(cache);
  const std::string input(fuzz::as_text(data, size));
  static const WeightCache empty(cache + "-none", {checkpoint()}, "{}", "int8", "q");  // no entry there
  const std::string key = empty.key().dump();
  std::string file;
  if (input.rfind("RAW", 0) == 0) {
    file = input.substr(3);
  } else {
    const size_t split = input.find("\n\n");
    std::string header = input.substr(0, split);
    if (const size_t at = header.find("\"$KEY\""); at != std::string::npos) header.replace(at, 6, key);
    file = "AUTOLMQW";
    for (int i = 0; i < 8; ++i) file += char((uint64_t(header.size()) >> (8 * i)) & 0xff);
    file += header;
    file.resize((file.size() + 4095) / 4096 * 4096, '\0');
    if (split != std::string::npos) file += input.substr(split + 2);
  }
  fuzz::write_file(cache + empty.path().substr(empty.path().rfind('/')), file);
  volatile unsigned sink = 0;
  fuzz::guarded([&] {
    WeightCache c(cache, {checkpoint()}, "{}", "int8", "q");
    for (const auto& [name, v] : c.tensors()) {
      const int64_t rows = v.shape[0], cols = v.shape[1];
      const auto* q = static_cast<const unsigned char*>(v.qdata);
      const int64_t qbytes = v.dtype == DType::kI8 ? rows * cols : rows * cols / 2;
      sink = sink + q[0] + q[qbytes - 1];
      const int64_t scales = v.dtype == DType::kI8 ? rows : rows * (cols / v.group);
      unsigned char b[4];
      std::memcpy(b, &v.scales[scales - 1], 4);
      sink = sink + b[0] + reinterpret_cast<const unsigned char*>(v.scales)[0];
      if (v.zeros) sink = sink + v.zeros[0] + v.zeros[scales - 1];
    }
  });
  return 0;
}
