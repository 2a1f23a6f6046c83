// Pegasus, M2M100 (NLLB), mT5 and UMT5 against transformers-made refs (tests/data/seq2seq, produced by
// tests/data/make_seq2seq_refs.py): decoder logits, and batched greedy with right padding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "autolm/auto.h"
#include "io/json_file.h"
#include "io/safetensors.h"

namespace autolm {
namespace {

const std::string kDir = std::string(AUTOLM_SOURCE_DIR) + "/tests/data/seq2seq";

TEST(Seq2SeqExtra, LogitsAndBatchedGreedyMatchTransformers) {
  json refs = load_json_file(kDir + "/refs.json");
  WeightStore logits_file({kDir + "/refs.logits.safetensors"});
  ASSERT_EQ(refs["cases"].size(), 4u);
  for (const auto& c : refs["cases"]) {
    const std::string name = c["name"];
    auto model = AutoModelForSeq2SeqLM::from_pretrained(kDir + "/" + name);
    EXPECT_EQ(model->config().model_type, c["model_type"].get<std::string>());
    const int64_t V = model->config().vocab_size;
    // Logits of the first input with the reference decoder ids.
    auto src0 = c["input_ids"][0].get<std::vector<int32_t>>();
    auto dec = c["decoder_input_ids"].get<std::vector<int32_t>>();
    auto state = model->new_state(1, int(dec.size()));
    model->encode(src0, {}, int(src0.size()), *state);
    auto got = model->decode(dec, {}, int(dec.size()), *state, true);
    TensorView expected = logits_file.require(c["logits_tensor"].get<std::string>());
    float max_ref = 0, max_diff = 0;
    for (int64_t i = 0; i < expected.numel(); ++i) {
      max_ref = std::max(max_ref, std::abs(expected.data[i]));
      max_diff = std::max(max_diff, std::abs(expected.data[i] - got[i]));
    }
    EXPECT_LE(max_diff, 1e-4f * std::max(1.f, max_ref)) << name;

    // Batched greedy, right-padded sources, EOS banned for min_new_tokens steps as in the ref.
    const auto& g = c["greedy"];
    const int steps = g["max_new_tokens"].get<int>();
    const int rows = int(c["input_ids"].size());
    int width = 0;
    for (auto& s : c["input_ids"]) width = std::max(width, int(s.size()));
    const int32_t pad = int32_t(*model->config().pad_token_id), eos = int32_t(model->config().eos_token_id.at(0));
    std::vector<int32_t> ids, mask;
    for (auto& s : c["input_ids"]) {
      auto v = s.get<std::vector<int32_t>>();
      for (int i = 0; i < width; ++i) {
        ids.push_back(i < int(v.size()) ? v[i] : pad);
        mask.push_back(i < int(v.size()));
      }
    }
    auto bstate = model->new_state(rows, steps + 1);
    model->encode(ids, mask, width, *bstate);
    std::vector<int32_t> next(rows, int32_t(*model->config().decoder_start_token_id));
    std::vector<std::vector<int32_t>> seqs(rows, {next[0]});
    for (int step = 0; step < steps; ++step) {
      auto l = model->decode(next, {}, 1, *bstate, false);
      for (int r = 0; r < rows; ++r) {
        std::vector<float> row(l.begin() + r * V, l.begin() + (r + 1) * V);
        row[eos] = -std::numeric_limits<float>::infinity();
        next[r] = int32_t(std::max_element(row.begin(), row.end()) - row.begin());
        seqs[r].push_back(next[r]);
      }
    }
    for (int r = 0; r < rows; ++r) EXPECT_EQ(seqs[r], g["sequences"][r].get<std::vector<int32_t>>()) << name << " row " << r;
  }
}

}  // namespace
}  // namespace autolm
