// Checkpoint key layouts the Hub serves, settled as transformers 5.24 settles them: keys with or
// without the architecture's base_model_prefix (gpt2's "h.0…", a LlamaModel or BartModel
// checkpoint), buffers transformers ignores (not reported unused, never loaded), and sharded
// safetensors whose shards hold different dtypes.
#include <gtest/gtest.h>

#include "scratch_folder.h"

namespace autolm {
namespace {

using test::ScratchFolder;

std::vector<float> logits(const std::string& dir, std::vector<int32_t> dec = {}) {
  auto m = load_model(dir);
  const std::vector<int32_t> ids = {1, 5, 9};
  auto s = m->new_state(1, 4);
  if (m->config().family == ModelFamily::kSeq2Seq) {
    m->encode(ids, {}, 3, *s);
    auto out = m->decode(dec, {}, int(dec.size()), *s, false);
    return {out.begin(), out.end()};
  }
  auto out = m->decode(ids, {}, 3, *s, false);
  return {out.begin(), out.end()};
}

// Renames every tensor of `folder`'s model.safetensors through `rename` ("" drops it), and adds
// `extra` F32 tensors (name → shape, all ones).
void rewrite_keys(const ScratchFolder& folder, const std::function<std::string(const std::string&)>& rename,
                  const std::vector<std::pair<std::string, std::vector<int>>>& extra = {}) {
  const std::string file = folder.file("model.safetensors");
  std::string packed = test::repacked(file, [&](const std::string& n) { return !rename(n).empty(); });
  // Rename in the header and append the extra tensors after the data.
  uint64_t n;
  std::memcpy(&n, packed.data(), 8);
  json header = json::parse(packed.substr(8, n));
  std::string data = packed.substr(8 + n);
  json out = json::object();
  for (auto& [name, v] : header.items()) out[name == "__metadata__" ? name : rename(name)] = v;
  for (auto& [name, shape] : extra) {
    int count = 1;
    for (int d : shape) count *= d;
    out[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + 4 * count}}};
    for (int i = 0; i < count; ++i) {
      const float one = 1.0f;
      data.append(reinterpret_cast<const char*>(&one), 4);
    }
  }
  std::string h = out.dump();
  while (h.size() % 8) h += ' ';
  const uint64_t hn = h.size();
  folder.write("model.safetensors", std::string(reinterpret_cast<const char*>(&hn), 8) + h + data);
}

std::string strip(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

TEST(HubLayouts, Gpt2CheckpointWithoutTransformerPrefixAndItsAttentionBuffers) {
  ScratchFolder f("gpt2-tiny");
  // The original Hub gpt2 files: "h.0.…", "wte.weight", causal-mask buffers, no lm_head.
  rewrite_keys(f, [](const std::string& n) { return n == "lm_head.weight" ? "" : strip(n, "transformer."); },
               {{"h.0.attn.bias", {1, 1, 4, 4}}, {"h.1.attn.bias", {1, 1, 4, 4}}, {"h.0.attn.masked_bias", {1}}});
  EXPECT_EQ(logits(f.path()), logits(test::model_dir("gpt2-tiny")));
  // transformers 5.24 ignores "attn.bias" (GPT2PreTrainedModel._keys_to_ignore_on_load_unexpected)
  // but reports the older "attn.masked_bias" as unexpected (checked with a GPT2LMHeadModel:
  // output_loading_info lists exactly it); so does autolm.
  EXPECT_EQ(load_model(f.path())->unused_tensors(), std::vector<std::string>{"h.0.attn.masked_bias"});
}

TEST(HubLayouts, LlamaBaseModelCheckpointAndRotaryInvFreq) {
  ScratchFolder f("llama-tiny");
  rewrite_keys(f, [](const std::string& n) { return strip(n, "model."); },
               {{"layers.0.self_attn.rotary_emb.inv_freq", {4}}});
  EXPECT_EQ(logits(f.path()), logits(test::model_dir("llama-tiny")));
  auto m = load_model(f.path());
  EXPECT_TRUE(m->unused_tensors().empty());
  EXPECT_EQ(m->parameter_count(), load_model(test::model_dir("llama-tiny"))->parameter_count() + 4);
}

TEST(HubLayouts, BartCheckpointWithoutModelPrefix) {
  ScratchFolder f("bart-tiny");
  rewrite_keys(f, [](const std::string& n) { return strip(n, "model."); }, {{"encoder.version", {1}}});
  const std::vector<int32_t> dec = {2, 0};
  EXPECT_EQ(logits(f.path(), dec), logits(test::model_dir("bart-tiny"), dec));
  EXPECT_TRUE(load_model(f.path())->unused_tensors().empty());
}

TEST(HubLayouts, T5IgnoresTheCrossAttentionBiasTransformersDrops) {
  ScratchFolder f("t5-tiny");
  rewrite_keys(f, [](const std::string& n) { return n; },
               {{"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", {32, 4}}, {"stray.weight", {2}}});
  const std::vector<int32_t> dec = {0, 4};
  EXPECT_EQ(logits(f.path(), dec), logits(test::model_dir("t5-tiny"), dec));
  // A tensor no rule covers is still reported.
  EXPECT_EQ(load_model(f.path())->unused_tensors(), std::vector<std::string>{"stray.weight"});
}

TEST(HubLayouts, UnknownTensorsStayReportedUnderEitherSpelling) {
  ScratchFolder f("llama-tiny");
  rewrite_keys(f, [](const std::string& n) { return n; }, {{"model.extra.weight", {3}}});
  EXPECT_EQ(load_model(f.path())->unused_tensors(), std::vector<std::string>{"model.extra.weight"});
}

TEST(HubLayouts, ShardedSafetensorsWithMixedDtypes) {
  // Two shards: the embedding and layer 0 converted to BF16, the rest F32. The same tensors in
  // one file give the same logits: the index only changes where tensors live.
  ScratchFolder one("llama-tiny"), sharded("llama-tiny");
  auto to_bf16 = [](const std::string& n) { return n.rfind("model.layers.0.", 0) == 0 || n == "model.embed_tokens.weight"; };
  auto convert = [&](const std::string& file) {
    std::string bytes = read_text_file(file);
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    json header = json::parse(bytes.substr(8, n));
    const std::string data = bytes.substr(8 + n);
    json out = json::object();
    std::string out_data;
    for (auto& [name, v] : header.items()) {
      if (name == "__metadata__") { out[name] = v; continue; }
      const uint64_t b = v["data_offsets"][0], e = v["data_offsets"][1];
      json t = v;
      std::string chunk = data.substr(b, e - b);
      if (to_bf16(name)) {
        std::string half;
        for (size_t i = 0; i + 4 <= chunk.size(); i += 4) half.append(chunk.data() + i + 2, 2);  // truncate to bf16
        chunk = half;
        t["dtype"] = "BF16";
      }
      t["data_offsets"] = {out_data.size(), out_data.size() + chunk.size()};
      out_data += chunk;
      out[name] = t;
    }
    std::string h = out.dump();
    while (h.size() % 8) h += ' ';
    const uint64_t hn = h.size();
    return std::string(reinterpret_cast<const char*>(&hn), 8) + h + out_data;
  };
  one.write("model.safetensors", convert(one.file("model.safetensors")));
  sharded.write("full.safetensors", convert(sharded.file("model.safetensors")));
  const std::string full = sharded.file("full.safetensors");
  sharded.write("model-00001-of-00002.safetensors", test::repacked(full, to_bf16));
  sharded.write("model-00002-of-00002.safetensors", test::repacked(full, [&](const std::string& n) { return !to_bf16(n); }));
  json index = {{"metadata", json::object()}, {"weight_map", json::object()}};
  {
    uint64_t n;
    const std::string bytes = read_text_file(full);
    std::memcpy(&n, bytes.data(), 8);
    const json header = json::parse(bytes.substr(8, n));
    for (auto& [name, v] : header.items())
      if (name != "__metadata__")
        index["weight_map"][name] = to_bf16(name) ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  std::filesystem::remove(sharded.file("model.safetensors"));
  std::filesystem::remove(full);
  sharded.write("model.safetensors.index.json", index.dump());
  EXPECT_EQ(logits(sharded.path()), logits(one.path()));
  auto m = load_model(sharded.path());
  EXPECT_EQ(m->weight_dtypes(), (std::vector<std::string>{"BF16", "F32"}));
  EXPECT_TRUE(m->unused_tensors().empty());
}

}  // namespace
}  // namespace autolm
