// Every architecture with a bfloat16 checkpoint (the Hub's usual dtype): the fixture models are
// rewritten to BF16 here, then loaded three ways. In place (auto) must equal upcast (float32)
// exactly — widening bf16 is exact — and int8 must stay close.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "autolm/auto.h"
#include "fixtures.h"
#include "io/mmap.h"

namespace fs = std::filesystem;

namespace autolm {
namespace {

uint16_t to_bf16(float f) {  // round to nearest even, as torch's .to(torch.bfloat16)
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return uint16_t((b + 0x7fff + ((b >> 16) & 1)) >> 16);
}

// Copies a fixture folder, rewriting model.safetensors with every F32 tensor as BF16.
std::string bf16_copy(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("autolm-bf16-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::copy(test::model_dir(name), dir);
  const std::string bytes = read_text_file((dir / "model.safetensors").string());
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  std::string data;
  json out = json::object();
  for (auto& [key, info] : header.items()) {
    if (key == "__metadata__") continue;
    const uint64_t b = info["data_offsets"][0], e = info["data_offsets"][1];
    std::string src = bytes.substr(8 + n + b, e - b);
    json o = info;
    if (info["dtype"] == "F32") {
      std::string half(src.size() / 2, '\0');
      for (size_t i = 0; i < src.size() / 4; ++i) {
        float f;
        std::memcpy(&f, src.data() + 4 * i, 4);
        const uint16_t h = to_bf16(f);
        std::memcpy(half.data() + 2 * i, &h, 2);
      }
      src = half;
      o["dtype"] = "BF16";
    }
    o["data_offsets"] = {data.size(), data.size() + src.size()};
    data += src;
    out[key] = o;
  }
  std::string h = out.dump();
  while (h.size() % 8) h += ' ';
  const uint64_t hn = h.size();
  std::ofstream f(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(&hn), 8);
  f << h << data;
  return dir.string();
}

std::vector<float> forward(const std::string& dir, const std::string& dtype, const json& c) {
  auto model = load_model(dir, LoadOptions{.dtype = parse_dtype(dtype)});
  auto ids = c["input_ids"].get<std::vector<int32_t>>();
  std::unique_ptr<DecodeState> state;
  std::span<const float> l;
  if (model->family() == ModelFamily::kSeq2Seq) {
    auto dec = c["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
    state = model->new_state(1, int(dec.size()));
    model->encode(ids, {}, int(ids.size()), *state);
    l = model->decode(dec, {}, int(dec.size()), *state, true);
  } else {
    state = model->new_state(1, int(ids.size()));
    l = model->decode(ids, {}, int(ids.size()), *state, true);
  }
  return {l.begin(), l.end()};
}

TEST(Bf16Checkpoints, InPlaceEqualsUpcastAndInt8StaysClose) {
  std::vector<std::string> names = test::causal_models();
  for (auto& s : test::seq2seq_models()) names.push_back(s);
  for (const auto& name : names) {
    if (name == "chat-tiny" || name == "t5-numbers") continue;  // already bf16 checkpoints
    const std::string dir = bf16_copy(name);
    const json c = test::load_ref(name)["cases"][0];
    auto in_place = forward(dir, "auto", c);
    auto upcast = forward(dir, "float32", c);
    auto int8 = forward(dir, "int8", c);
    ASSERT_EQ(in_place.size(), upcast.size());
    float max_abs = 0, diff = 0, diff8 = 0;
    for (size_t i = 0; i < upcast.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(upcast[i]));
      diff = std::max(diff, std::abs(in_place[i] - upcast[i]));
      diff8 = std::max(diff8, std::abs(int8[i] - upcast[i]));
    }
    EXPECT_LE(diff, 1e-5f * std::max(1.f, max_abs)) << name;
    EXPECT_LE(diff8, 0.1f * std::max(1.f, max_abs)) << name << " (int8)";
    EXPECT_GT(diff8, 0.f) << name << ": int8 not applied";
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace autolm
