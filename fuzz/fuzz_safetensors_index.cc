// Fuzz target: model.safetensors.index.json → WeightStore::open_folder. The folder holds two
// valid shards (model-00001-of-00002.safetensors, model-00002-of-00002.safetensors) so that
// the index can name real files, missing ones, duplicates, paths outside the folder, "..",
// absolute paths, directories, the index itself...
#include <cstring>

#include "fuzz_common.h"
#include "io/safetensors.h"

using namespace autolm;

namespace {

// A valid safetensors file holding one F32 tensor `name` of shape [2] (values 1, 2).
std::string shard(const std::string& name) {
  const std::string header = R"({"__metadata__":{"format":"pt"},")" + name +
                             R"(":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  const float values[2] = {1.f, 2.f};
  out += header;
  out.append(reinterpret_cast<const char*>(values), sizeof values);
  return out;
}

fuzz::TempDir& dir() {
  static fuzz::TempDir d;
  static const bool ready = [] {
    fuzz::write_file(d / "model-00001-of-00002.safetensors", shard("a.weight"));
    fuzz::write_file(d / "model-00002-of-00002.safetensors", shard("b.weight"));
    fs::create_directory(d / "sub");
    fuzz::write_file(d / "sub/model.safetensors", shard("c.weight"));
    return true;
  }();
  (void)ready;
  return d;
}

}  // namespace

// Loads the fixed inputs once, before libFuzzer starts timing units (-timeout).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dir();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_file(dir() / "model.safetensors.index.json", fuzz::as_text(data, size));
  fuzz::guarded([&] {
    auto store = WeightStore::open_folder(dir().path());
    volatile float sink = 0;
    for (auto& [name, info] : store->index()) sink = sink + store->require(name).data[0];
  });
  return 0;
}
