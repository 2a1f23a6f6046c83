// Fuzz target: one pre-quantized layer (GPTQ / AWQ / compressed-tensors tensors in a .safetensors
// file) → WeightStore::require_matrix → load_quantized_layer's validation and repacking into int4
// (io/quantized.h), touching every byte of the result so that ASan checks what the repacking
// wrote and UBSan its index arithmetic.
// Input: one selector byte (quant method, group size, zero offset, symmetric, expected shape),
// then the .safetensors file.
#include <cstring>

#include "fuzz_common.h"
#include "io/quantized.h"
#include "io/safetensors.h"

using namespace autolm;

namespace {

fuzz::TempDir& dir() {
  static fuzz::TempDir d;
  return d;
}

QuantConfig config_of(uint8_t sel) {
  static const int64_t groups[] = {32, 64, 128};
  QuantConfig c;
  c.method = QuantMethod(sel % 3);
  c.group_size = groups[(sel / 3) % 3];
  c.zero_offset = (sel / 9) % 2;
  c.symmetric = (sel / 18) % 2;
  if ((sel / 36) % 2) c.modules_to_not_convert = {"model.layers.1"};
  return c;
}

unsigned touch(const TensorView& v) {
  unsigned sum = 0;
  if (v.shape.size() != 2 || v.dtype != DType::kI4) return sum;
  const int64_t rows = v.shape[0], cols = v.shape[1], groups = v.group > 0 ? cols / v.group : 0;
  const auto* q = static_cast<const uint8_t*>(v.qdata);
  for (int64_t i = 0; i < rows * cols / 2; ++i) sum += q[i];
  for (int64_t i = 0; i < rows * groups; ++i) {
    float s = v.scales[i];
    unsigned char b[sizeof s];
    std::memcpy(b, &s, sizeof s);
    sum += b[0] + v.zeros[i];
  }
  if (v.in_perm)
    for (int64_t k = 0; k < cols; ++k) sum += unsigned(v.in_perm[k]);
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const QuantConfig config = config_of(data[0]);
  const std::string path = dir() / "model.safetensors";
  fuzz::write_file(path, fuzz::as_text(data + 1, size - 1));
  volatile unsigned sink = 0;
  fuzz::guarded([&] {
    WeightStore store({path}, WeightFormat::kAuto);
    store.use_quantized(config);
    const std::string marker = quantized_marker(config.method);
    for (const auto& entry : store.index()) {
      const std::string& name = entry.first;
      if (name.size() <= marker.size() || name.compare(name.size() - marker.size(), marker.size(), marker) != 0) continue;
      const std::string layer = name.substr(0, name.size() - marker.size());
      fuzz::guarded([&] { sink = sink + touch(store.require_matrix(layer + ".weight")); });
      fuzz::guarded([&] { sink = sink + touch(store.require_matrix(layer + ".weight", {64, 64})); });
    }
  });
  return 0;
}
