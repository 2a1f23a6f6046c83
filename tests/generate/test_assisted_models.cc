// Assisted generation on every fixture model and the demo models: greedy with prompt lookup and
// with an assistant (the same model, and another model of the same vocabulary) gives exactly the
// tokens of plain greedy, which test_parity.cc checks against transformers.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "fixtures.h"

namespace autolm {
namespace {

std::shared_ptr<const Model> model_for(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Model>> cache;
  auto& m = cache[name];
  if (!m) m = load_model(test::model_dir(name));
  return m;
}

// A different model of the same vocabulary (and family), or the model itself.
std::string partner(const std::string& name) {
  static const std::map<std::string, std::string> p = {
      {"gpt2-tiny", "llama-tiny"}, {"llama-tiny", "qwen2-tiny"}, {"llama3-rope-tiny", "gpt2-tiny"},
      {"mistral-tiny", "phi3-tiny"}, {"qwen2-tiny", "qwen3-tiny"}, {"qwen3-tiny", "gemma3-tiny"},
      {"phi3-tiny", "mistral-tiny"}, {"gemma3-tiny", "llama-tiny"}, {"t5-tiny", "t5-v1_1-tiny"},
      {"t5-v1_1-tiny", "t5-tiny"}, {"bart-tiny", "mbart-tiny"}, {"mbart-tiny", "marian-tiny"},
      {"marian-tiny", "bart-tiny"}};
  auto it = p.find(name);
  return it == p.end() ? name : it->second;
}

class AssistedModels : public ::testing::TestWithParam<std::string> {};

TEST_P(AssistedModels, GreedyEqualsPlainGreedy) {
  const std::string name = GetParam();
  auto model = model_for(name);
  const nlohmann::json ref = test::load_ref(name);
  GenerationConfig file = GenerationConfig::for_model(*model);
  int64_t accepted_from_itself = 0;  // drafts of the model itself that it kept
  for (const auto& c : ref["cases"]) {
    const auto prompt = c["input_ids"].get<std::vector<int32_t>>();
    for (const char* setting : {"greedy", "greedy_rep"}) {
      if (!c["gen"].contains(setting)) continue;
      GenerationConfig cfg = file;
      cfg.update(c["gen"][setting]["params"]);
      cfg.max_new_tokens = 16;
      const auto plain = generate(*model, {prompt}, cfg);
      auto check = [&](const GenerateOutput& out, const std::string& how) {
        SCOPED_TRACE(name + " " + setting + " " + how);
        EXPECT_EQ(out.sequences, plain.sequences);
        EXPECT_EQ(out.finish_reasons, plain.finish_reasons);
        EXPECT_LE(out.accepted_draft_tokens, out.draft_tokens);
      };
      GenerationConfig lookup = cfg;
      lookup.prompt_lookup_num_tokens = 10;
      check(generate(*model, {prompt}, lookup, {}, {}), "prompt lookup");
      GenerationConfig acfg;
      acfg.num_assistant_tokens = 4;
      acfg.num_assistant_tokens_schedule = "heuristic";
      for (const std::string& draft : {name, partner(name)}) {
        GenerateOptions o{.assistant_model = model_for(draft).get(), .assistant_generation_config = &acfg};
        const auto out = generate(*model, {prompt}, cfg, {}, o);
        check(out, "assistant " + draft);
        if (draft == name) accepted_from_itself += out.accepted_draft_tokens;
      }
    }
  }
  EXPECT_GT(accepted_from_itself, 0);
}

std::vector<std::string> names() {
  std::vector<std::string> v = test::causal_models();
  for (const auto& s : test::seq2seq_models()) v.push_back(s);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, AssistedModels, ::testing::ValuesIn(names()),
                         test::FixtureName());

}  // namespace
}  // namespace autolm
