// tool_choice "required" and a named function (issue #16): the reply is forced into tool calls in
// the template's format by constrained decoding. Every generated reply, over seeds and
// temperatures, must parse into calls of the offered (or named) tool whose arguments validate
// against its parameters schema — in each format through the grammar and the format's parser on
// the demo chat model, and end to end over HTTP with Qwen2.5's template.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>

#include "autolm/auto.h"
#include "autolm/tokenizer.h"
#include "generate/json_validator.h"
#include "server/server.h"
#include "server/tool_calls.h"
#include "server/tool_grammar.h"

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string demo() { return std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny"; }

const json kTools = json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
   "properties": {"city": {"type": "string", "maxLength": 8}, "n": {"type": "integer"}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
   "properties": {"zone": {"enum": ["UTC", "CET"]}, "exact": {"type": "boolean"}}, "required": ["zone"]}}},
  {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
])");

const json kServerTools = json::parse(R"([
  {"type": "function", "function": {"name": "weather", "parameters": {"type": "object",
   "properties": {"city": {"type": "string", "maxLength": 6}}, "required": ["city"]}}},
  {"type": "function", "function": {"name": "time", "parameters": {"type": "object",
   "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"]}}}
])");

const json* schema_of(const std::string& name) {
  for (const json* tools : {&kTools, &kServerTools})
    for (const auto& t : *tools)
      if (t["function"]["name"] == name) return &t["function"]["parameters"];
  return nullptr;
}

// The call is one of `allowed` (all tools when empty) and its arguments validate.
void expect_valid_call(const std::string& name, const std::string& arguments, const std::vector<std::string>& allowed,
                       const std::string& what) {
  const json* schema = schema_of(name);
  ASSERT_NE(schema, nullptr) << what << ": unknown tool " << name;
  if (!allowed.empty()) EXPECT_NE(std::find(allowed.begin(), allowed.end(), name), allowed.end()) << what << ": " << name;
  json args;
  try {
    args = json::parse(arguments);
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": arguments do not parse: " << arguments;
    return;
  }
  EXPECT_EQ(test::validate(args, *schema, *schema), "") << what << ": " << arguments;
}

std::vector<ForcedTool> forced(const std::vector<std::string>& only = {}) {
  std::vector<ForcedTool> out;
  for (size_t i = 0; i < kTools.size(); ++i) {
    const json& f = kTools[i]["function"];
    if (!only.empty() && std::find(only.begin(), only.end(), f["name"]) == only.end()) continue;
    out.push_back({f["name"], f.contains("parameters") ? std::optional<json>(f["parameters"]) : std::nullopt, i});
  }
  return out;
}

// Every format, through generate() on the demo model and the format's own parser.
TEST(ForcedToolCalls, EveryFormatParsesIntoValidCalls) {
  auto model = AutoModelForCausalLM::from_pretrained(demo());
  auto tok = AutoTokenizer::from_pretrained(demo());
  auto vocab = make_token_vocabulary(tok->token_bytes());
  const std::vector<int32_t> prompt = tok->encode("Call a tool:", true);
  struct Case {
    ToolFormat format;
    bool mistral_args;
    const char* what;
  };
  for (const Case& c : {Case{ToolFormat::kHermes, false, "hermes"}, Case{ToolFormat::kLlama3Json, false, "llama3_json"},
                        Case{ToolFormat::kMistral, false, "mistral list"}, Case{ToolFormat::kMistral, true, "mistral [ARGS]"}}) {
    for (const bool named : {false, true}) {
      const std::vector<std::string> allowed = named ? std::vector<std::string>{"get_time"} : std::vector<std::string>{};
      const bool parallel = !named && c.format != ToolFormat::kLlama3Json;
      GenerateHooks hooks;
      hooks.constraint = tool_call_constraint(c.format, c.mistral_args, forced(allowed), parallel, vocab);
      GenerationConfig cfg = GenerationConfig::for_model(*model);
      cfg.max_new_tokens = 120;
      cfg.do_sample = true;
      cfg.num_return_sequences = 3;
      int complete = 0, calls = 0;
      for (const float temperature : {0.7f, 1.3f}) {
        for (uint64_t seed = 1; seed <= 2; ++seed) {
          cfg.temperature = temperature;
          cfg.seed = seed;
          const GenerateOutput out = generate(*model, {prompt}, cfg, hooks);
          for (size_t r = 0; r < out.new_tokens.size(); ++r) {
            const std::string what = std::string(c.what) + (named ? " named" : "") + " T=" + std::to_string(temperature) +
                                     " seed " + std::to_string(seed);
            std::vector<int32_t> ids(out.new_tokens[r].begin(), out.new_tokens[r].begin() + out.num_generated[r]);
            const bool ended = out.finish_reasons[r] == FinishReason::kEos;
            if (ended) ids.pop_back();  // the EOS
            // Cut by max_new_tokens: the calls completed so far (what streaming would have sent).
            const std::string text = tok->decode(ids, false);
            ToolCallParser parser(c.format, 64);
            ToolDelta d = parser.push(text);
            if (ended) {
              ToolDelta end = parser.finish();
              d.content += end.content;
              for (auto& call : end.calls) d.calls.push_back(std::move(call));
              ASSERT_FALSE(d.calls.empty()) << what << "\n" << text;
              if (!parallel) EXPECT_EQ(d.calls.size(), 1u) << what << "\n" << text;
              ++complete;
            }
            EXPECT_EQ(d.content, "") << what << "\n" << text;
            for (const auto& call : d.calls) {
              ++calls;
              expect_valid_call(call.name, call.arguments, allowed, what + "\n" + text);
            }
          }
        }
      }
      // Single calls end after the call; parallel ones may go on until max_new_tokens.
      if (!parallel) EXPECT_GE(complete, 6) << c.what << (named ? " named" : "");
      EXPECT_GE(calls, 6) << c.what << (named ? " named" : "");
    }
  }
}

TEST(ForcedToolCalls, SchemaErrorsAreRefused) {
  auto tok = AutoTokenizer::from_pretrained(demo());
  auto vocab = make_token_vocabulary(tok->token_bytes());
  const std::vector<ForcedTool> bad = {{"f", json::parse(R"({"type":"string","pattern":"^a"})"), 0}};
  EXPECT_THROW(tool_call_constraint(ToolFormat::kHermes, false, bad, true, vocab), Error);
  EXPECT_THROW(tool_call_constraint(ToolFormat::kNone, false, forced(), true, vocab), Error);
  EXPECT_THROW(tool_call_constraint(ToolFormat::kHermes, false, {}, true, vocab), Error);
  // No parameters: any object.
  EXPECT_NO_THROW(tool_call_constraint(ToolFormat::kMistral, true, {{"f", std::nullopt, 0}}, true, vocab));
}

// Over HTTP with Qwen2.5's template (Hermes format): whole and streamed replies.
class ForcedToolServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("autolm-forced-tools-" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                          "tokenizer_config.json"})
      fs::copy_file(fs::path(demo()) / f, *dir_ / f, fs::copy_options::overwrite_existing);
    fs::copy_file(fs::path(AUTOLM_SOURCE_DIR) / "tests/data/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja",
                  *dir_ / "chat_template.jinja", fs::copy_options::overwrite_existing);
    ServerOptions o;
    o.model = load_model(dir_->string());
    o.tokenizer = AutoTokenizer::from_pretrained(dir_->string());
    o.port = 0;
    o.model_name = "chat-tiny";
    server_ = new Server(std::move(o));
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    std::error_code ec;
    fs::remove_all(*dir_, ec);
    delete dir_;
  }
  static std::pair<int, json> post(const json& body) {
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_read_timeout(120, 0);
    auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  static std::vector<json> post_stream(json body) {
    body["stream"] = true;
    httplib::Client cli("127.0.0.1", server_->port());
    cli.set_read_timeout(120, 0);
    auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
    std::vector<json> events;
    if (!res) return events;
    EXPECT_EQ(res->status, 200) << res->body;
    const std::string& raw = res->body;
    for (size_t pos = 0, end; (end = raw.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
      const std::string ev = raw.substr(pos + 6, end - pos - 6);
      if (ev != "[DONE]") events.push_back(json::parse(ev));
    }
    return events;
  }
  // Small tools: the Qwen template's tool prompt must leave room in chat-tiny's 512 positions.
  static json tools() { return kServerTools; }
  static json request(const json& choice, double temperature, int seed) {
    return {{"messages", json::array({{{"role", "user"}, {"content", "Paris?"}}})},
            {"tools", tools()}, {"tool_choice", choice}, {"temperature", temperature}, {"seed", seed},
            {"n", 2}};
  }
  static Server* server_;
  static fs::path* dir_;
};
Server* ForcedToolServer::server_ = nullptr;
fs::path* ForcedToolServer::dir_ = nullptr;

TEST_F(ForcedToolServer, RequiredAndNamedAlwaysCall) {
  const json named = {{"type", "function"}, {"function", {{"name", "time"}}}};
  int calls = 0;
  for (const json& choice : {json("required"), named})
    for (const bool parallel : {true, false})
      for (const double temperature : {0.0, 1.0})
        for (const int seed : {1, 2}) {
          json req = request(choice, temperature, seed);
          req["parallel_tool_calls"] = parallel;
          const std::string what = choice.dump() + " parallel " + std::to_string(parallel) + " T=" +
                                   std::to_string(temperature) + " seed " + std::to_string(seed);
          auto [status, body] = post(req);
          ASSERT_EQ(status, 200) << what << body.dump();
          for (const auto& c : body["choices"]) {
            if (c["finish_reason"] == "length") continue;  // cut by max_tokens
            EXPECT_EQ(c["finish_reason"], "tool_calls") << what << c.dump();
            EXPECT_TRUE(c["message"]["content"].is_null()) << what << c.dump();
            ASSERT_TRUE(c["message"].contains("tool_calls")) << what << c.dump();
            const json& tc = c["message"]["tool_calls"];
            ASSERT_TRUE(tc.is_array() && !tc.empty()) << what << c.dump();
            if (!parallel) EXPECT_EQ(tc.size(), 1u) << what << c.dump();
            for (const auto& call : tc) {
              ++calls;
              expect_valid_call(call["function"]["name"], call["function"]["arguments"],
                                choice.is_object() ? std::vector<std::string>{"time"} : std::vector<std::string>{},
                                what);
            }
          }
        }
  EXPECT_GE(calls, 10);  // of 16 choices (a few are cut by max_tokens)
}

TEST_F(ForcedToolServer, StreamedCallsEqualTheWholeReply) {
  json req = request("required", 0.0, 3);
  req["n"] = 1;
  auto [status, whole] = post(req);
  ASSERT_EQ(status, 200) << whole.dump();
  ASSERT_TRUE(whole["choices"][0]["message"].contains("tool_calls")) << whole.dump();
  const json& expected = whole["choices"][0]["message"]["tool_calls"];
  json calls = json::array();
  std::string content, finish;
  for (const auto& e : post_stream(req)) {
    const json& c = e["choices"][0];
    if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
    if (c["delta"].contains("tool_calls"))
      for (const auto& tc : c["delta"]["tool_calls"]) calls.push_back(tc);
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
  }
  EXPECT_EQ(content, "");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), expected.size());
  for (size_t k = 0; k < calls.size(); ++k) {
    EXPECT_EQ(calls[k]["index"], k);
    EXPECT_EQ(calls[k]["function"], expected[k]["function"]);
  }
}

TEST_F(ForcedToolServer, Refusals) {
  json req = request("required", 0.0, 1);
  req["response_format"] = {{"type", "json_object"}};
  auto [s1, b1] = post(req);
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(b1["error"]["param"], "response_format") << b1.dump();
  // A parameters schema the grammar cannot enforce: refused when forced (naming the tool), fine with auto.
  json bad = tools();
  bad[1]["function"]["parameters"]["properties"]["zone"] = {{"type", "string"}, {"pattern", "^[A-Z]+$"}};
  req = request("required", 0.0, 1);
  req["tools"] = bad;
  auto [s2, b2] = post(req);
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(b2["error"]["param"], "tools[1].function.parameters") << b2.dump();
  EXPECT_NE(b2["error"]["message"].get<std::string>().find("pattern"), std::string::npos) << b2.dump();
  req["tool_choice"] = "auto";
  req["max_tokens"] = 2;
  EXPECT_EQ(post(req).first, 200);
  req = request({{"type", "function"}, {"function", {{"name", "nope"}}}}, 0.0, 1);
  auto [s3, b3] = post(req);
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(b3["error"]["param"], "tool_choice") << b3.dump();
}

}  // namespace
}  // namespace autolm::server
