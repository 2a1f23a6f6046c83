// The server's response_format (src/server/chat_request.cc) in-process: json_object and json_schema
// replies from the demo chat model parse and validate; unsupported schemas are 400s naming them.
#include <gtest/gtest.h>

#include "autolm/auto.h"
#include "fixture_paths.h"
#include "generate/json_validator.h"
#include "server/openai.h"

namespace autolm {
namespace {

using test::ojson;

class ResponseFormat : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::fixture_path("demo/chat-tiny");
    engine_ = new server::Engine(AutoModelForCausalLM::from_pretrained(dir), AutoTokenizer::from_pretrained(dir), "chat-tiny");
  }
  static void TearDownTestSuite() { delete engine_; }

  static ojson chat(const ojson& response_format, int n = 1) {
    const ojson body = {{"messages", {{{"role", "user"}, {"content", "A person as JSON"}}}},
                        {"response_format", response_format}, {"max_tokens", 256}, {"n", n}, {"seed", 5},
                        {"temperature", 1.0}};
    server::Job job = server::parse_chat_request(*engine_, body.dump());
    server::RunControl control;
    return server::run_job(*engine_, job, control);
  }
  static server::Engine* engine_;
};
server::Engine* ResponseFormat::engine_ = nullptr;

TEST_F(ResponseFormat, JsonSchemaRepliesValidate) {
  const ojson schema = ojson::parse(R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},
      "age":{"type":"integer"},"langs":{"type":"array","items":{"enum":["en","fr"]},"maxItems":2}},
      "required":["name","age","langs"],"additionalProperties":false})");
  const ojson reply = chat({{"type", "json_schema"}, {"json_schema", {{"name", "person"}, {"schema", schema}, {"strict", true}}}}, 3);
  int complete = 0;
  for (const auto& c : reply["choices"]) {
    if (c["finish_reason"] != "stop") continue;
    ++complete;
    const std::string text = c["message"]["content"].get<std::string>();
    const ojson v = ojson::parse(text);
    EXPECT_EQ(test::validate(v, schema, schema), "") << text;
  }
  EXPECT_GE(complete, 2);
}

TEST_F(ResponseFormat, JsonObjectReplyIsAnObject) {
  const ojson reply = chat({{"type", "json_object"}});
  const auto& c = reply["choices"][0];
  if (c["finish_reason"] == "stop") {
    EXPECT_TRUE(ojson::parse(c["message"]["content"].get<std::string>()).is_object());
  }
  const ojson text = chat({{"type", "text"}});
  EXPECT_TRUE(text["choices"][0]["message"]["content"].is_string());
}

TEST_F(ResponseFormat, RefusalsNameTheField) {
  auto status_of = [](const ojson& rf, std::string& message) {
    try {
      chat(rf);
    } catch (const server::ApiError& e) {
      message = e.what();
      return e.status;
    }
    return 200;
  };
  std::string m;
  EXPECT_EQ(status_of({{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "object"}, {"minProperties", 1}}}}}}, m), 400);
  EXPECT_NE(m.find("minProperties"), std::string::npos) << m;
  EXPECT_EQ(status_of({{"type", "yaml"}}, m), 400);
  EXPECT_EQ(status_of({{"type", "json_schema"}}, m), 400);
  EXPECT_EQ(status_of({{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "strng"}}}}}}, m), 400);
  EXPECT_NE(m.find("strng"), std::string::npos) << m;
}

}  // namespace
}  // namespace autolm
