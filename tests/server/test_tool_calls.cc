// Tool-call parsing (src/server/tool_calls.h) on model outputs in each format family, whole and
// streamed in every split; malformed output comes back as plain content, never a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/tool_calls.h"

namespace autolm::server {
namespace {

struct Expected {
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments JSON text
};

void expect_parse(ToolFormat f, const std::string& text, const Expected& want) {
  // Whole text.
  ToolDelta whole = parse_tool_calls(f, text, 64);
  EXPECT_EQ(whole.content, want.content) << text;
  ASSERT_EQ(whole.calls.size(), want.calls.size()) << text;
  for (size_t i = 0; i < want.calls.size(); ++i) {
    EXPECT_EQ(whole.calls[i].name, want.calls[i].first);
    EXPECT_EQ(nlohmann::json::parse(whole.calls[i].arguments), nlohmann::json::parse(want.calls[i].second));
    if (f == ToolFormat::kMistral) {
      EXPECT_EQ(whole.calls[i].id.size(), 9u);
    } else {
      EXPECT_EQ(whole.calls[i].id.rfind("call_", 0), 0u);
      EXPECT_EQ(whole.calls[i].id.size(), 29u);
    }
  }
  // Streamed in two pieces at every split, and one byte at a time: the same result.
  auto streamed = [&](const std::vector<std::string>& pieces) {
    ToolCallParser p(f, 64);
    ToolDelta all;
    for (const auto& piece : pieces) {
      ToolDelta d = p.push(piece);
      all.content += d.content;
      for (auto& c : d.calls) all.calls.push_back(c);
    }
    ToolDelta d = p.finish();
    all.content += d.content;
    for (auto& c : d.calls) all.calls.push_back(c);
    EXPECT_EQ(p.calls(), static_cast<int>(all.calls.size()));
    return all;
  };
  auto same = [&](const ToolDelta& d, const std::string& how) {
    EXPECT_EQ(d.content, whole.content) << how;
    ASSERT_EQ(d.calls.size(), whole.calls.size()) << how;
    for (size_t i = 0; i < d.calls.size(); ++i) {
      EXPECT_EQ(d.calls[i].name, whole.calls[i].name) << how;
      EXPECT_EQ(d.calls[i].arguments, whole.calls[i].arguments) << how;
    }
  };
  for (size_t cut = 0; cut <= text.size(); ++cut)
    same(streamed({text.substr(0, cut), text.substr(cut)}), "split at " + std::to_string(cut));
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  same(streamed(bytes), "byte by byte");
}

// Outputs in the shape each model family's documentation and chat template give.
TEST(ToolCalls, HermesQwen) {
  const std::string one =
      "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n"
      "</tool_call>";
  expect_parse(ToolFormat::kHermes, one, {"", {{"get_current_temperature", R"({"location":"San Francisco, CA, USA"})"}}});
  // Two parallel calls after some text (Qwen2.5's own example has two).
  const std::string two =
      "Let me check both.\n\n<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": "
      "\"San Francisco, CA, USA\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": "
      "\"get_temperature_date\", \"arguments\": {\"location\": \"San Francisco, CA, USA\", \"date\": \"2024-10-01\"}}\n"
      "</tool_call>";
  expect_parse(ToolFormat::kHermes, two,
               {"Let me check both.",
                {{"get_current_temperature", R"({"location": "San Francisco, CA, USA", "unit": "celsius"})"},
                 {"get_temperature_date", R"({"location": "San Francisco, CA, USA", "date": "2024-10-01"})"}}});
  // Qwen3 thinks first; arguments as a JSON string; unterminated last call (vLLM accepts it).
  expect_parse(ToolFormat::kHermes,
               "<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n{\"name\": \"weather\", \"arguments\": "
               "\"{\\\"city\\\": \\\"Paris\\\"}\"}",
               {"<think>\nThe user wants the weather.\n</think>", {{"weather", R"({"city": "Paris"})"}}});
  // No arguments at all: {}.
  expect_parse(ToolFormat::kHermes, "<tool_call>{\"name\": \"now\"}</tool_call>", {"", {{"now", "{}"}}});
  // Plain replies, including ones that mention "<tool" or end in "<".
  expect_parse(ToolFormat::kHermes, "The answer is 42. Use <tools> wisely <", {"The answer is 42. Use <tools> wisely <", {}});
  expect_parse(ToolFormat::kHermes, "  spaced reply \n", {"  spaced reply \n", {}});
}

TEST(ToolCalls, HermesMalformedBecomesContent) {
  // Bad JSON, a missing name, arguments that are not an object: the text stays as it is.
  for (const std::string bad : {"<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>",
                                "<tool_call>{\"arguments\": {}}</tool_call>",
                                "<tool_call>{\"name\": \"f\", \"arguments\": [1, 2]}</tool_call>",
                                "<tool_call>{\"name\": \"\"}</tool_call>", "<tool_call>", "<tool_call>{{{{{{",
                                "text <tool_call>\"just a string\"</tool_call> more"})
    expect_parse(ToolFormat::kHermes, bad, {bad, {}});
  // A good call next to a bad one: the good one is a call, the bad one content.
  expect_parse(ToolFormat::kHermes, "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n<tool_call>oops</tool_call>",
               {"<tool_call>oops</tool_call>", {{"a", "{}"}}});
  // Nesting beyond the depth limit is refused as a call, not a crash.
  std::string deep = "<tool_call>{\"name\": \"f\", \"arguments\": " + std::string(200, '[') + std::string(200, ']') + "}</tool_call>";
  expect_parse(ToolFormat::kHermes, deep, {deep, {}});
}

TEST(ToolCalls, Llama3Json) {
  expect_parse(ToolFormat::kLlama3Json,
               "{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco, CA\", \"unit\": "
               "\"Fahrenheit\"}}",
               {"", {{"get_current_conditions", R"({"location": "San Francisco, CA", "unit": "Fahrenheit"})"}}});
  expect_parse(ToolFormat::kLlama3Json,
               "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"q\": \"x; y\"}}; {\"name\": \"b\", \"parameters\": {}}",
               {"", {{"a", R"({"q": "x; y"})"}, {"b", "{}"}}});
  // Text first: a plain reply, even if JSON follows; JSON that is not a call: plain.
  expect_parse(ToolFormat::kLlama3Json, "Sure: {\"name\": \"a\", \"parameters\": {}}", {"Sure: {\"name\": \"a\", \"parameters\": {}}", {}});
  expect_parse(ToolFormat::kLlama3Json, "{\"answer\": 42}", {"{\"answer\": 42}", {}});
  expect_parse(ToolFormat::kLlama3Json, "{\"name\": \"a\", \"parameters\": {}} trailing words",
               {"{\"name\": \"a\", \"parameters\": {}} trailing words", {}});
  expect_parse(ToolFormat::kLlama3Json, "The capital of France is Paris.", {"The capital of France is Paris.", {}});
}

TEST(ToolCalls, Mistral) {
  // v3 (Mistral-Nemo): a JSON list.
  expect_parse(ToolFormat::kMistral,
               "[TOOL_CALLS][{\"name\": \"get_current_weather\", \"arguments\": {\"location\": \"Paris, France\", "
               "\"format\": \"celsius\"}}, {\"name\": \"get_time\", \"arguments\": {}}]",
               {"", {{"get_current_weather", R"({"location": "Paris, France", "format": "celsius"})"}, {"get_time", "{}"}}});
  // v11+ (Mistral-Small-3.2, Devstral): name[ARGS]{…}, one [TOOL_CALLS] per call, optional [CALL_ID].
  expect_parse(ToolFormat::kMistral, "I'll look.[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[CALL_ID]abc123XYZ[ARGS]{}",
               {"I'll look.", {{"get_weather", R"({"city": "Paris"})"}, {"get_time", "{}"}}});
  for (const std::string bad : {"[TOOL_CALLS]get_weather{\"city\": 1}", "[TOOL_CALLS][{\"name\": 3}]", "[TOOL_CALLS]",
                                "[TOOL_CALLS][]", "[TOOL_CALLS]f[ARGS]{"})
    expect_parse(ToolFormat::kMistral, bad, {bad, {}});
  expect_parse(ToolFormat::kMistral, "No [TOOL_CALL here [TOOL", {"No [TOOL_CALL here [TOOL", {}});
}

TEST(ToolCalls, FormatIsDetectedFromTheVendorTemplates) {
  const std::map<std::string, ToolFormat> expected = {
      {"Qwen-Qwen2.5-7B-Instruct.jinja", ToolFormat::kHermes},
      {"Qwen-Qwen3-0.6B.jinja", ToolFormat::kHermes},
      {"Qwen-QwQ-32B.jinja", ToolFormat::kHermes},
      {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", ToolFormat::kHermes},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ToolFormat::kMistral},
      {"Mistral-Small-3.2-24B-Instruct-2506.jinja", ToolFormat::kMistral},
      {"unsloth-mistral-Devstral-Small-2507.jinja", ToolFormat::kMistral},
      // Formats autolm does not parse: tools are refused rather than returned as text.
      {"meetkai-functionary-medium-v3.1.jinja", ToolFormat::kNone},
      {"meetkai-functionary-medium-v3.2.jinja", ToolFormat::kNone},
      {"ibm-granite-granite-3.3-2B-Instruct.jinja", ToolFormat::kNone},
      {"openai-gpt-oss-120b.jinja", ToolFormat::kNone},
      {"deepseek-ai-DeepSeek-V3.1.jinja", ToolFormat::kNone},
      {"ByteDance-Seed-OSS.jinja", ToolFormat::kNone},
      {"microsoft-Phi-3.5-mini-instruct.jinja", ToolFormat::kNone},
  };
  const std::filesystem::path dir = std::filesystem::path(AUTOLM_SOURCE_DIR) / "tests/data/chat/templates";
  for (const auto& [file, format] : expected) {
    std::ifstream in(dir / file);
    ASSERT_TRUE(in) << file;
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(tool_format_name(detect_tool_format(ss.str())), std::string(tool_format_name(format))) << file;
  }
  // Llama 3.1's template (not redistributable here) is recognised by its instruction.
  EXPECT_EQ(detect_tool_format("<|start_header_id|>system<|end_header_id|>Respond in the format {\"name\": function "
                               "name, \"parameters\": dictionary of argument name and its value}."),
            ToolFormat::kLlama3Json);
  EXPECT_EQ(detect_tool_format("{% for m in messages %}{{ m.content }}{% endfor %}"), ToolFormat::kNone);
}

}  // namespace
}  // namespace autolm::server
