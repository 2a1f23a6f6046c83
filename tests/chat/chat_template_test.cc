// Chat templates against transformers: byte parity with refs/chat/*.json, template lookup precedence,
// special-token variables and the options apply_chat_template takes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "autolm/chat.h"
#include "autolm/error.h"
#include "fixture_paths.h"

namespace {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string fixtures() { return AUTOLM_FIXTURES; }

ojson read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ojson::parse(ss.str());
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// ---- parity with transformers' apply_chat_template(..., tokenize=False)

class ChatParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatParity, RenderedBytesMatchTransformers) {
  const std::string name = GetParam();
  AUTOLM_SKIP_WITHOUT_FIXTURE("refs/chat/" + name + ".json");
  const std::string dir = autolm::test::fixture_path("tokenizers/" + name);
  ojson ref = read_json(autolm::test::fixture_path("refs/chat/" + name + ".json"));
  ojson special = autolm::load_special_tokens(dir);
  ASSERT_GT(ref["cases"].size(), 0u);
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(name + "/" + c["name"].get<std::string>());
    autolm::ChatTemplateOptions options;
    options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    if (c.contains("tools")) options.tools = c["tools"];
    if (c.contains("kwargs")) options.extra = c["kwargs"];
    auto source = autolm::find_chat_template(dir, "", !options.tools.is_null());
    ASSERT_TRUE(source.has_value());
    autolm::ChatTemplate tpl(*source, dir);
    EXPECT_EQ(tpl.render(c["messages"], options, special), c["rendered"].get<std::string>());
    // The one-shot form agrees.
    EXPECT_EQ(autolm::render_chat_template(*source, c["messages"], options, special), c["rendered"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Refs, ChatParity, ::testing::Values("llama3", "qwen3", "gemma3", "qwen-bpe"));

TEST(ChatTemplate, SpecialTokensFollowTransformers) {
  AUTOLM_SKIP_WITHOUT_FIXTURE("tokenizers/gemma3");
  ojson gemma = autolm::load_special_tokens(autolm::test::fixture_path("tokenizers/gemma3"));
  EXPECT_EQ(gemma["bos_token"], "<bos>");
  EXPECT_EQ(gemma["eos_token"], "<end_of_turn>");
  EXPECT_EQ(gemma["pad_token"], "<pad>");
  EXPECT_EQ(gemma["unk_token"], "<unk>");
  EXPECT_EQ(gemma["boi_token"], "<start_of_image>");  // model-specific "*_token" strings are variables too
  ojson qwen = autolm::load_special_tokens(fixtures() + "/tokenizers/qwen3");
  EXPECT_FALSE(qwen.contains("bos_token"));  // null in tokenizer_config: not passed, so undefined
  EXPECT_EQ(qwen["eos_token"], "<|im_end|>");

  ojson config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}, {"lstrip", false}}},
                  {"eos_token", "</s>"},
                  {"add_bos_token", true},
                  {"unk_token", nullptr},
                  {"extra_special_tokens", {{"image_token", "<img>"}}}};
  ojson t = autolm::special_tokens_from_config(config);
  EXPECT_EQ(t, (ojson{{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"image_token", "<img>"}}));
}

TEST(ChatTemplate, ModelFoldersUseChatTemplateJinja) {
  for (const char* model : {"qwen3-tiny", "gemma3-tiny", "mistral-tiny", "phi3-tiny", "qwen2-tiny"}) {
    std::string dir = fixtures() + "/models/" + model;
    auto source = autolm::find_chat_template(dir);
    ASSERT_TRUE(source.has_value()) << model;
    std::ifstream in(dir + "/chat_template.jinja");
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(*source, ss.str()) << model;
  }
  auto demo = autolm::find_chat_template(fixtures() + "/demo/chat-tiny");
  ASSERT_TRUE(demo.has_value());
  autolm::ChatTemplateOptions options;
  options.add_generation_prompt = true;
  ojson messages = ojson::array({{{"role", "user"}, {"content", "12+7="}}});
  EXPECT_EQ(autolm::render_chat_template(*demo, messages, options, ojson::object()),
            "<|im_start|>user\n12+7=<|im_end|>\n<|im_start|>assistant\n");
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("autolm_chat_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }
  fs::path dir_;
};

using FindChatTemplate = TempDir;

TEST_F(FindChatTemplate, NoneWhenFolderHasNoTemplate) {
  EXPECT_FALSE(autolm::find_chat_template(dir()).has_value());
  write_file(dir_ / "tokenizer_config.json", R"({"eos_token": "</s>"})");
  EXPECT_FALSE(autolm::find_chat_template(dir()).has_value());
}

TEST_F(FindChatTemplate, JinjaFileTakesPriorityOverTokenizerConfig) {
  write_file(dir_ / "tokenizer_config.json", R"({"chat_template": "from config"})");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "from config");
  write_file(dir_ / "chat_template.jinja", "from file");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "from file");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "default"), "from file");
  EXPECT_THROW(autolm::find_chat_template(dir(), "tool_use"), autolm::Error);
}

TEST_F(FindChatTemplate, NamedTemplatesInTokenizerConfig) {
  write_file(dir_ / "tokenizer_config.json",
             R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"},
                                   {"name": "rag", "template": "R"}]})");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "D");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "", true), "T");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "rag"), "R");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "rag", true), "R");
  try {
    autolm::find_chat_template(dir(), "nope");
    FAIL();
  } catch (const autolm::Error& e) {
    EXPECT_EQ(e.kind(), autolm::ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("'rag'"), std::string::npos) << e.what();
  }
}

TEST_F(FindChatTemplate, NamedTemplatesWithoutDefault) {
  write_file(dir_ / "tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "", true), "T");
  EXPECT_THROW(autolm::find_chat_template(dir()), autolm::Error);
}

TEST_F(FindChatTemplate, AdditionalChatTemplatesDirectory) {
  write_file(dir_ / "tokenizer_config.json", R"({"chat_template": "from config"})");
  write_file(dir_ / "chat_template.jinja", "D");
  write_file(dir_ / "additional_chat_templates" / "tool_use.jinja", "T");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "D");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "", true), "T");
  EXPECT_EQ(*autolm::find_chat_template(dir(), "tool_use"), "T");
}

TEST_F(FindChatTemplate, ChatTemplateJsonIsTheLastResort) {
  write_file(dir_ / "chat_template.json", R"({"chat_template": "from json"})");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "from json");
  write_file(dir_ / "tokenizer_config.json", R"({"chat_template": "from config"})");
  EXPECT_EQ(*autolm::find_chat_template(dir()), "from config");
}

TEST_F(FindChatTemplate, MalformedConfigIsInvalidInput) {
  write_file(dir_ / "tokenizer_config.json", R"({"chat_template": 5})");
  try {
    autolm::find_chat_template(dir());
    FAIL();
  } catch (const autolm::Error& e) {
    EXPECT_EQ(e.kind(), autolm::ErrorKind::kInvalidInput);
  }
  write_file(dir_ / "tokenizer_config.json", "{not json");
  EXPECT_THROW(autolm::find_chat_template(dir()), autolm::Error);
}

TEST_F(FindChatTemplate, LegacySpecialTokensMap) {
  write_file(dir_ / "tokenizer_config.json", R"({"bos_token": "<x>"})");
  write_file(dir_ / "special_tokens_map.json", R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})");
  EXPECT_EQ(autolm::load_special_tokens(dir()), (ojson{{"bos_token", "<s>"}, {"eos_token", "</s>"}}));
}

// ---- variables and options as render_jinja_template passes them

TEST(ChatTemplateRender, VariablesAsTransformersPassesThem) {
  const std::string src =
      "{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ bos_token }}|{{ unk_token is defined }}|"
      "{{ enable_thinking }}|{{ messages|length }}";
  ojson messages = ojson::array({{{"role", "user"}, {"content", "hi"}}});
  autolm::ChatTemplateOptions options;
  options.extra = {{"enable_thinking", false}};
  EXPECT_EQ(autolm::render_chat_template(src, messages, options, {{"bos_token", "<s>"}}),
            "True|True|False|<s>|False|False|1");
  options.add_generation_prompt = true;
  options.tools = ojson::array({{{"type", "function"}}});
  options.documents = ojson::array({{{"title", "t"}, {"text", "x"}}});
  options.extra = {{"bos_token", "<override>"}};  // kwargs override special tokens
  EXPECT_EQ(autolm::render_chat_template(src, messages, options, {{"bos_token", "<s>"}}),
            "False|False|True|<override>|False||1");
}

TEST(ChatTemplateRender, ToolsKeepKeyOrder) {
  // Python dicts keep insertion order and tojson prints it; a sorted map would move "type" last.
  ojson tools = ojson::parse(R"([{"type": "function", "function": {"name": "f", "description": "d",
      "parameters": {"type": "object", "properties": {"z": {"type": "string"}}, "required": ["z"]}}}])");
  autolm::ChatTemplateOptions options;
  options.tools = tools;
  ojson messages = ojson::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(autolm::render_chat_template("{{ tools[0]|tojson }}", messages, options, ojson::object()),
            R"({"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"z": {"type": "string"}}, "required": ["z"]}}})");
}

TEST(ChatTemplateRender, PlainJsonConvertsImplicitly) {
  nlohmann::json messages = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});
  autolm::ChatTemplateOptions options;
  EXPECT_EQ(autolm::render_chat_template("{{ messages[0].content }}", messages, options, nlohmann::json::object()), "hi");
}

TEST(ChatTemplateRender, RejectsBadInputs) {
  autolm::ChatTemplateOptions options;
  auto expect_invalid = [&](const ojson& messages, const autolm::ChatTemplateOptions& o, const std::string& fragment) {
    try {
      autolm::render_chat_template("x", messages, o, ojson::object());
      ADD_FAILURE() << "no error for " << fragment;
    } catch (const autolm::Error& e) {
      EXPECT_EQ(e.kind(), autolm::ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_invalid(ojson::array(), options, "empty conversation");
  expect_invalid(ojson::object(), options, "messages must be a JSON array");
  autolm::ChatTemplateOptions bad = options;
  bad.documents = ojson::array({"not a dict"});
  expect_invalid(ojson::array({{{"role", "user"}}}), bad, "Documents should be a list of dicts");
  bad = options;
  bad.extra = {{"messages", 1}};
  expect_invalid(ojson::array({{{"role", "user"}}}), bad, "multiple values for keyword argument 'messages'");
}

TEST(ChatTemplateRender, RaiseExceptionCarriesTheTemplateMessage) {
  AUTOLM_SKIP_WITHOUT_FIXTURE("tokenizers/gemma3");
  std::string src = autolm::test::fixture_path("tokenizers/gemma3");
  auto source = autolm::find_chat_template(src);
  ASSERT_TRUE(source.has_value());
  ojson messages = ojson::array({{{"role", "assistant"}, {"content", "first"}}});
  try {
    autolm::render_chat_template(*source, messages, {}, autolm::load_special_tokens(src));
    FAIL();
  } catch (const autolm::Error& e) {
    EXPECT_EQ(e.kind(), autolm::ErrorKind::kInvalidInput);
    EXPECT_STREQ(e.what(), "Conversation roles must alternate user/assistant/user/assistant/...");
  }
}

TEST(ChatTemplateRender, StrftimeNowUsesTheGivenTime) {
  autolm::ChatTemplateOptions options;
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 12;
  tm.tm_isdst = -1;
  options.now = std::mktime(&tm);
  const std::string src =
      "{%- if not date_string is defined %}{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- endif %}"
      "Today Date: {{ date_string }}";
  ojson messages = ojson::array({{{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(autolm::render_chat_template(src, messages, options, ojson::object()), "Today Date: 26 Jul 2024");
  options.extra = {{"date_string", "01 Jan 2000"}};
  EXPECT_EQ(autolm::render_chat_template(src, messages, options, ojson::object()), "Today Date: 01 Jan 2000");
}

}  // namespace
