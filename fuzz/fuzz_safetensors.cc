// Fuzz target: a whole .safetensors file (8-byte little-endian header length, JSON header,
// tensor bytes) → SafetensorsFile, then every tensor through WeightStore in each weight
// format (float32 views, BF16/F16 upcasts, int8 quantization), touching every byte the
// header points at so that ASan checks the offsets against the mapping.
#include <cstring>

#include "fuzz_common.h"
#include "io/safetensors.h"

using namespace autolm;

namespace {

fuzz::TempDir& dir() {
  static fuzz::TempDir d;
  return d;
}

// Reads the first and last element of a view: enough for ASan to see an out-of-range pointer.
unsigned touch(const TensorView& v, const TensorInfo& info) {
  unsigned sum = 0;
  if (info.nbytes) sum += info.ptr[0] + info.ptr[info.nbytes - 1];
  const int64_t n = numel(v.shape);
  if (v.data && n > 0) {
    float f[2] = {v.data[0], v.data[n - 1]};
    unsigned char b[sizeof f];
    std::memcpy(b, f, sizeof f);
    for (unsigned char c : b) sum += c;
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = dir() / "model.safetensors";
  fuzz::write_file(path, fuzz::as_text(data, size));
  volatile unsigned sink = 0;
  fuzz::guarded([&] {
    SafetensorsFile file(path);
    for (auto& [name, info] : file.tensors()) sink = sink + (info.nbytes ? info.ptr[info.nbytes - 1] : 0);
  });
  for (WeightFormat format : {WeightFormat::kAuto, WeightFormat::kFloat32, WeightFormat::kInt8}) {
    fuzz::guarded([&] {
      WeightStore store({path}, format);
      for (const auto& entry : store.index()) {
        const std::string& name = entry.first;
        const TensorInfo& info = *entry.second;
        fuzz::guarded([&] {
          const TensorView v = info.shape.size() == 2 ? store.require_matrix(name) : store.require(name);
          sink = sink + touch(v, info);
        });
      }
      sink = sink + unsigned(store.parameter_count());
    });
  }
  return 0;
}
