// Shared by the pre-quantized checkpoint tests (test_gptq.cc, test_awq.cc): a fixture folder
// written by tests/data/make_{gptq,awq}_fixture.py holds a tiny llama in the format's packing,
// and <folder>.json transformers' logits and greedy continuation for the same weights
// dequantized by the format's documented formula.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "cpu/matmul.h"
#include "io/json_file.h"
#include "io/mmap.h"
#include "io/quantized.h"

namespace autolm {

inline const std::string kQuantData = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/";

// A scratch folder of this process (test processes run in parallel and share TempDir()).
inline std::string scratch_dir(const std::string& name) {
  return testing::TempDir() + "/prequantized-" + std::to_string(::getpid()) + "-" + name;
}

// Loads `dir` and compares its logits and greedy continuation with `dir`.json.
inline void expect_matches_reference(const std::string& dir) {
  const auto ref = load_json_file(dir + ".json");
  auto model = load_model(dir);
  EXPECT_EQ(model->unused_tensors(), std::vector<std::string>{});
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  auto state = model->new_state(1, int64_t(ids.size()));
  auto logits = model->decode(ids, {}, int64_t(ids.size()), *state, true);
  const auto& want = ref["logits"];
  ASSERT_EQ(logits.size(), want.size() * want[0].size());
  const int64_t V = int64_t(want[0].size());
  // Exact weights, float32 arithmetic: the scalar / AVX2 / AVX-512 kernels agree to float
  // rounding; VNNI rounds activations to int8 per block of 32 (as for int8 weights), ≈ 0.4 %.
  const double tol = cpu::best_kernel().exact ? 2e-4 : 3e-2;
  double max_diff = 0, max_ref = 0;
  for (size_t p = 0; p < want.size(); ++p)
    for (int64_t v = 0; v < V; ++v) {
      max_diff = std::max(max_diff, std::abs(double(logits[p * V + v]) - want[p][v].get<double>()));
      max_ref = std::max(max_ref, std::abs(want[p][v].get<double>()));
    }
  std::printf("%s: max |logit diff| %.3g (isa %s)\n", dir.c_str(), max_diff, cpu::best_kernel().isa.c_str());
  EXPECT_LE(max_diff, tol * std::max(1.0, max_ref)) << "isa " << cpu::best_kernel().isa << ", max |logit| " << max_ref;
  GenerationConfig cfg = GenerationConfig::for_model(*model);
  cfg.max_new_tokens = 8;
  cfg.do_sample = false;
  auto out = generate(*model, {ids}, cfg);
  EXPECT_EQ(out.sequences[0], ref["greedy"].get<std::vector<int32_t>>());
}

// A copy of fixture `dir` in a temporary folder `name`, with config.json's quantization_config
// keys replaced by `edit` (a null value removes the key).
inline std::string with_quantization_config(const std::string& dir, const std::string& name, const nlohmann::json& edit) {
  const std::string out = scratch_dir(name);
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(dir + "/model.safetensors", out + "/model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  auto config = load_json_file(dir + "/config.json");
  for (auto& [k, v] : edit.items()) {
    if (v.is_null()) config["quantization_config"].erase(k);
    else config["quantization_config"][k] = v;
  }
  std::ofstream(out + "/config.json") << config.dump();
  return out;
}

// load_model(dir) throws an Error whose message contains `message`.
inline void expect_refused(const std::string& dir, const std::string& message, const std::string& what) {
  try {
    load_model(dir);
    ADD_FAILURE() << what << " accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << what << ": " << e.what();
  }
}

// A copy of fixture `dir` in temporary folder `name` whose model.safetensors has tensor `tensor`
// replaced by `dtype` `shape` `bytes` (dtype "" removes it), or its bytes edited in place when
// `edit` is given (dtype and shape kept).
struct TensorEdit {
  TensorEdit(std::string tensor_, std::string dtype_ = "", std::vector<int64_t> shape_ = {}, std::string bytes_ = "",
             std::function<void(std::string&)> edit_ = nullptr)
      : tensor(std::move(tensor_)), dtype(std::move(dtype_)), shape(std::move(shape_)), bytes(std::move(bytes_)),
        edit(std::move(edit_)) {}
  std::string tensor;
  std::string dtype;  // "" with no edit: remove the tensor
  std::vector<int64_t> shape;
  std::string bytes;
  std::function<void(std::string&)> edit;  // edits the tensor's bytes in place
};
inline std::string with_tensor(const std::string& dir, const std::string& name, const TensorEdit& e) {
  const std::string out = scratch_dir(name);
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(dir + "/config.json", out + "/config.json", std::filesystem::copy_options::overwrite_existing);
  const std::string bytes = read_text_file(dir + "/model.safetensors", uint64_t(1) << 30);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const json header = json::parse(bytes.substr(8, n));
  const std::string data = bytes.substr(8 + n);
  json out_header = json::object();
  std::string out_data;
  bool found = false;
  for (auto& [key, v] : header.items()) {
    if (key == "__metadata__") { out_header[key] = v; continue; }
    const uint64_t b = v["data_offsets"][0], end = v["data_offsets"][1];
    json t = v;
    std::string payload = data.substr(b, end - b);
    if (key == e.tensor) {
      found = true;
      if (e.edit) {
        e.edit(payload);
      } else if (e.dtype.empty()) {
        continue;
      } else {
        t["dtype"] = e.dtype;
        t["shape"] = e.shape;
        payload = e.bytes;
      }
    }
    t["data_offsets"] = {out_data.size(), out_data.size() + payload.size()};
    out_data += payload;
    out_header[key] = t;
  }
  EXPECT_TRUE(found) << e.tensor;
  std::string h = out_header.dump();
  while (h.size() % 8) h += ' ';
  const uint64_t hn = h.size();
  std::ofstream(out + "/model.safetensors", std::ios::binary)
      << std::string(reinterpret_cast<const char*>(&hn), 8) + h + out_data;
  return out;
}

// Little-endian int32 values as a tensor's bytes.
inline std::string int32_bytes(const std::vector<int32_t>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

}  // namespace autolm
