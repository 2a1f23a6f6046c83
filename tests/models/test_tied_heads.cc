// Tied vs untied LM heads as transformers 5.24 decides them: a file that holds its own
// lm_head.weight with values different from the embedding uses that head even when config.json
// says tie_word_embeddings (transformers then declines to tie and warns); a byte-identical copy
// is the tied head; tie_word_embeddings false without lm_head.weight is a missing tensor.
// (Checked against transformers 5.24 on t5, bart, gpt2, qwen2, llama, gemma3 fixtures: both
// tie_word_embeddings values give the file's head when it differs from the embedding.)
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "autolm/auto.h"
#include "models/scratch_folder.h"

namespace autolm {
namespace {

// Adds `name` = a copy of tensor `like` with every float scaled by `scale` (a different head)
// or unchanged (scale 1: a tied copy), repacked as the format requires.
std::string with_tensor(const std::string& file, const std::string& name, const std::string& like, float scale) {
  std::string bytes = read_text_file(file, uint64_t(1) << 30);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  const uint64_t b = header[like]["data_offsets"][0], e = header[like]["data_offsets"][1];
  std::string data = bytes.substr(8 + n) ;
  std::string copy = data.substr(b, e - b);
  EXPECT_EQ(header[like]["dtype"], "F32");
  for (size_t i = 0; i + 4 <= copy.size(); i += 4) {
    float v;
    std::memcpy(&v, copy.data() + i, 4);
    v *= scale;
    std::memcpy(copy.data() + i, &v, 4);
  }
  json t = header[like];
  t["data_offsets"] = {data.size(), data.size() + copy.size()};
  header[name] = t;
  data += copy;
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  uint64_t hn = h.size();
  return std::string(reinterpret_cast<const char*>(&hn), 8) + h + data;
}

std::vector<float> logits(const std::string& dir) {
  auto m = load_model(dir);
  const std::vector<int32_t> ids = {5, 9, 13, 2};
  auto s = m->new_state(1, 4);
  if (m->family() == ModelFamily::kSeq2Seq) {
    m->encode(ids, {}, 4, *s);
    const std::vector<int32_t> dec = {0, 4};
    auto out = m->decode(dec, {}, 2, *s, true);
    return {out.begin(), out.end()};
  }
  auto out = m->decode(ids, {}, 4, *s, true);
  return {out.begin(), out.end()};
}

struct Case {
  const char* model;
  const char* embedding;
};

TEST(TiedHeads, FileHeadWinsOverTieWordEmbeddings) {
  for (Case c : {Case{"t5-tiny", "shared.weight"}, Case{"qwen2-tiny", "model.embed_tokens.weight"},
                 Case{"gpt2-tiny", "transformer.wte.weight"}, Case{"bart-tiny", "model.shared.weight"}}) {
    SCOPED_TRACE(c.model);
    test::ScratchFolder tied(c.model), untied(c.model);
    tied.write("model.safetensors", with_tensor(tied.file("model.safetensors"), "lm_head.weight", c.embedding, -0.5f));
    untied.write("model.safetensors", with_tensor(untied.file("model.safetensors"), "lm_head.weight", c.embedding, -0.5f));
    test::edit_config(tied, [](json& j) { j["tie_word_embeddings"] = true; });
    test::edit_config(untied, [](json& j) { j["tie_word_embeddings"] = false; });
    auto a = logits(tied.path()), orig = logits(test::model_dir(c.model));
    EXPECT_NE(a, orig);  // the file's (different) head is used…
    auto m = load_model(tied.path());
    EXPECT_TRUE(m->unused_tensors().empty());  // …and reported as used
    if (std::string(c.model) != "t5-tiny") {
      // (T5 also rescales the decoder output when tie_word_embeddings is set, as transformers does.)
      EXPECT_EQ(a, logits(untied.path()));
    }
  }
}

TEST(TiedHeads, IdenticalCopyIsTheTiedHead) {
  test::ScratchFolder f("qwen2-tiny");
  f.write("model.safetensors", with_tensor(f.file("model.safetensors"), "lm_head.weight", "model.embed_tokens.weight", 1.f));
  EXPECT_EQ(logits(f.path()), logits(test::model_dir("qwen2-tiny")));
  EXPECT_TRUE(load_model(f.path())->unused_tensors().empty());
}

TEST(TiedHeads, UntiedWithoutHeadIsAMissingTensor) {
  test::ScratchFolder f("qwen2-tiny");
  test::edit_config(f, [](json& j) { j["tie_word_embeddings"] = false; });
  test::expect_error(f.path(), ErrorKind::kNotFound, {"lm_head.weight"});
}

}  // namespace
}  // namespace autolm
