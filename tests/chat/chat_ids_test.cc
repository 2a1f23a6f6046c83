// Tokenizer::apply_chat_template against transformers' refs: rendered bytes and token ids.
#include <gtest/gtest.h>

#include "../tokenizer/test_util.h"
#include "fixture_paths.h"
#include "autolm/tokenizer.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm {
namespace {

class ChatIds : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatIds, RenderedAndIdsMatchTransformers) {
  const std::string name = GetParam();
  AUTOLM_SKIP_WITHOUT_FIXTURE("refs/chat/" + name + ".json");
  auto tok = test::load_fixture_tokenizer(name);
  auto ref = nlohmann::ordered_json::parse(read_text_file(test::fixture_path("refs/chat/" + name + ".json")));
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(name + "/" + c["name"].get<std::string>());
    ChatTemplateOptions options;
    options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    if (c.contains("tools")) options.tools = c["tools"];
    if (c.contains("kwargs")) options.extra = c["kwargs"];
    EXPECT_EQ(tok->apply_chat_template(c["messages"], options), c["rendered"].get<std::string>());
    if (c.contains("ids")) {  // every case but qwen3's tools one, whose ref stores only the text
      EXPECT_EQ(tok->apply_chat_template_ids(c["messages"], options), c["ids"].get<std::vector<int32_t>>());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, ChatIds, ::testing::Values("llama3", "qwen3", "gemma3", "qwen-bpe"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) if (!std::isalnum(ch)) ch = '_';
                           return n;
                         });

TEST(ChatIds, FolderWithoutTemplateIsAnError) {
  auto tok = test::load_fixture_tokenizer("gpt2-bpe");
  EXPECT_THROW(tok->apply_chat_template(nlohmann::ordered_json::array({{{"role", "user"}, {"content", "hi"}}})), Error);
}

}  // namespace
}  // namespace autolm
