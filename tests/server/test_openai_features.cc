// OpenAI features over HTTP on the bundled chat model (issue #16): tool calls (the model is steered
// into a call with sequence_bias, through the public API), logprobs against a log-softmax computed
// here from Model::decode, presence/frequency penalties against a greedy loop written here,
// logit_bias, ignore_eos / min_tokens, the developer role, /tokenize, /detokenize, max_model_len.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "autolm/auto.h"
#include "autolm/tokenizer.h"
#include "server/server.h"

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

std::string demo() { return std::string(AUTOLM_SOURCE_DIR) + "/models/chat-tiny"; }

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

Reply post(int port, const std::string& path, const json& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  auto res = cli.Post(path.c_str(), body.dump(), "application/json");
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.body = json::parse(res->body, nullptr, false);
  return r;
}

// The JSON of every "data: " event but [DONE].
std::vector<json> post_stream(int port, const std::string& path, json body) {
  body["stream"] = true;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  auto res = cli.Post(path.c_str(), body.dump(), "application/json");
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

void expect_error(const Reply& r, int status, const std::string& part, const char* param) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find(part), std::string::npos) << r.raw;
  EXPECT_EQ(r.body["error"]["param"], param) << r.raw;
}

std::unique_ptr<Server> start(const std::string& dir) {
  ServerOptions o;
  o.model = load_model(dir);
  o.tokenizer = AutoTokenizer::from_pretrained(dir);
  o.port = 0;
  o.parallel = 2;
  o.model_name = "chat-tiny";
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

const json kTools = json::parse(R"([{"type": "function", "function": {"name": "get_weather",
  "description": "Current weather in a city", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])");

json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

class OpenAIFeatures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // chat-tiny with Qwen2.5's template (Hermes <tool_call> format): same weights and tokenizer.
    tool_dir_ = new fs::path(fs::temp_directory_path() / ("autolm-tools-" + std::to_string(::getpid())));
    fs::create_directories(*tool_dir_);
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                          "tokenizer_config.json"})
      fs::copy_file(fs::path(demo()) / f, *tool_dir_ / f, fs::copy_options::overwrite_existing);
    fs::copy_file(fs::path(AUTOLM_SOURCE_DIR) / "tests/data/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja",
                  *tool_dir_ / "chat_template.jinja", fs::copy_options::overwrite_existing);
    plain_ = start(demo()).release();
    tools_ = start(tool_dir_->string()).release();
    model_ = new std::shared_ptr<const Model>(load_model(demo()));
    tok_ = new std::shared_ptr<const Tokenizer>(AutoTokenizer::from_pretrained(demo()));
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete tools_;
    delete model_;
    delete tok_;
    std::error_code ec;
    fs::remove_all(*tool_dir_, ec);
    delete tool_dir_;
  }
  static int plain() { return plain_->port(); }
  static int tools() { return tools_->port(); }

  // sequence_bias entries that make greedy decoding after `prompt` produce `text` then EOS: each
  // target token is biased by +100 after the whole prefix before it (the prompt's last two tokens,
  // then the target tokens so far), so exactly one entry applies at each step.
  static json force(const std::vector<int32_t>& prompt, const std::string& text) {
    std::vector<int32_t> target = (*tok_)->encode(text, false);
    target.push_back(*(*tok_)->eos_token_id());
    std::vector<int32_t> prefix(prompt.end() - 2, prompt.end());
    json bias = json::array();
    for (int32_t t : target) {
      std::vector<int32_t> entry = prefix;
      entry.push_back(t);
      bias.push_back(json::array({entry, 100.0}));
      prefix.push_back(t);
    }
    return bias;
  }
  static std::vector<int32_t> chat_prompt(int port, const json& messages, const json& tools = nullptr) {
    json req = {{"messages", messages}};
    if (!tools.is_null()) req["tools"] = tools;
    Reply r = post(port, "/tokenize", req);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["tokens"].get<std::vector<int32_t>>();
  }

  // log_softmax of Model::decode's logits for `ids` (all positions), in double: row i is the
  // distribution of the token after ids[0..i].
  static std::vector<std::vector<double>> reference_logprobs(const std::vector<int32_t>& ids) {
    const Model& m = **model_;
    auto state = m.new_state(1, static_cast<int>(ids.size()) + 1);
    std::span<const float> logits = m.decode(ids, {}, static_cast<int>(ids.size()), *state, true);
    const size_t vocab = logits.size() / ids.size();
    std::vector<std::vector<double>> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto row = logits.subspan(i * vocab, vocab);
      double mx = -INFINITY, s = 0;
      for (float x : row) mx = std::max(mx, double(x));
      for (float x : row) s += std::exp(double(x) - mx);
      std::vector<double> lp;
      for (float x : row) lp.push_back(double(x) - mx - std::log(s));
      out.push_back(std::move(lp));
    }
    return out;
  }

  static Server* plain_;
  static Server* tools_;
  static fs::path* tool_dir_;
  static std::shared_ptr<const Model>* model_;
  static std::shared_ptr<const Tokenizer>* tok_;
};
Server* OpenAIFeatures::plain_ = nullptr;
Server* OpenAIFeatures::tools_ = nullptr;
fs::path* OpenAIFeatures::tool_dir_ = nullptr;
std::shared_ptr<const Model>* OpenAIFeatures::model_ = nullptr;
std::shared_ptr<const Tokenizer>* OpenAIFeatures::tok_ = nullptr;

const std::string kCall = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

TEST_F(OpenAIFeatures, ToolCallIsParsedFromTheReply) {
  const json msgs = user("Weather in Paris?");
  const json req = {{"messages", msgs}, {"tools", kTools}, {"temperature", 0}, {"max_tokens", 60},
                    {"sequence_bias", force(chat_prompt(tools(), msgs, kTools), kCall)}};
  Reply r = post(tools(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null()) << r.raw;
  ASSERT_EQ(choice["message"]["tool_calls"].size(), 1u) << r.raw;
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["type"], "function");
  EXPECT_EQ(call["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(call["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));

  // Streamed: the role chunk, then one delta.tool_calls chunk with the whole call, then the finish.
  std::vector<json> events = post_stream(tools(), "/v1/chat/completions", req);
  std::string content;
  json calls = json::array();
  std::string finish;
  for (const auto& e : events) {
    const json& c = e["choices"][0];
    if (c["delta"].contains("content")) content += c["delta"]["content"].get<std::string>();
    if (c["delta"].contains("tool_calls"))
      for (const auto& tc : c["delta"]["tool_calls"]) calls.push_back(tc);
    if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
  }
  EXPECT_EQ(content, "");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0]["index"], 0);
  EXPECT_EQ(calls[0]["function"]["name"], "get_weather");
  EXPECT_EQ(calls[0]["function"]["arguments"], call["function"]["arguments"]);
  EXPECT_EQ(calls[0]["id"].get<std::string>().size(), 29u);
}

TEST_F(OpenAIFeatures, MalformedCallAndPlainRepliesStayContent) {
  const json msgs = user("Weather in Paris?");
  const std::string bad = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
  Reply r = post(tools(), "/v1/chat/completions",
                 {{"messages", msgs}, {"tools", kTools}, {"temperature", 0}, {"max_tokens", 60},
                  {"sequence_bias", force(chat_prompt(tools(), msgs, kTools), bad)}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], bad);
  EXPECT_FALSE(r.body["choices"][0]["message"].contains("tool_calls"));
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  // Unsteered, the demo model just answers.
  Reply a = post(tools(), "/v1/chat/completions", {{"messages", user("What is 12 + 30?")}, {"tools", kTools}, {"temperature", 0}});
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_TRUE(a.body["choices"][0]["message"]["content"].is_string());
  EXPECT_NE(a.body["choices"][0]["finish_reason"], "tool_calls");
}

TEST_F(OpenAIFeatures, ToolRefusals) {
  const json msgs = user("hi");
  // chat-tiny's own template shows no tool-call format.
  expect_error(post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"tools", kTools}}), 400, "tool_choice", "tools");
  Reply none = post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"tools", kTools}, {"tool_choice", "none"}, {"max_tokens", 2}});
  EXPECT_EQ(none.status, 200) << none.raw;
  expect_error(post(tools(), "/v1/chat/completions",
                    {{"messages", msgs}, {"tools", kTools}, {"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
               400, "not in 'tools'", "tool_choice");
  expect_error(post(tools(), "/v1/chat/completions", {{"messages", msgs}, {"tool_choice", "auto"}}), 400, "tools", "tool_choice");
  expect_error(post(tools(), "/v1/chat/completions", {{"messages", msgs}, {"tools", kTools}, {"tool_choice", "sometimes"}}), 400,
               "sometimes", "tool_choice");
}

TEST_F(OpenAIFeatures, ChatLogprobsAreTheModelsLogSoftmax) {
  const json msgs = user("What is 12 + 30?");
  const json req = {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 12}, {"logprobs", true}, {"top_logprobs", 3}};
  Reply r = post(plain(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& content = r.body["choices"][0]["logprobs"]["content"];
  ASSERT_TRUE(content.is_array()) << r.raw;
  ASSERT_FALSE(content.empty());
  // The tokens spell the reply (EOS is not part of it).
  std::string joined;
  for (const auto& e : content) joined += e["token"].get<std::string>();
  EXPECT_EQ(joined, r.body["choices"][0]["message"]["content"]);
  // Greedy: each token is the argmax of the model's distribution after the prompt and the tokens
  // before it; its logprob and the top 3 are that distribution's log-softmax.
  std::vector<int32_t> ids = chat_prompt(plain(), msgs);
  for (size_t i = 0; i < content.size(); ++i) {
    const auto ref = reference_logprobs(ids).back();
    const int32_t best = static_cast<int32_t>(std::max_element(ref.begin(), ref.end()) - ref.begin());
    const int32_t one[1] = {best};
    EXPECT_EQ(content[i]["token"], (*tok_)->decode(one, false)) << i;
    EXPECT_NEAR(content[i]["logprob"].get<double>(), ref[best], 1e-4) << i;
    const std::string tok = content[i]["token"];
    EXPECT_EQ(content[i]["bytes"], json(std::vector<int>(tok.begin(), tok.end())));
    ASSERT_EQ(content[i]["top_logprobs"].size(), 3u);
    EXPECT_EQ(content[i]["top_logprobs"][0]["token"], content[i]["token"]);
    std::vector<double> sorted = ref;
    std::sort(sorted.rbegin(), sorted.rend());
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(content[i]["top_logprobs"][k]["logprob"].get<double>(), sorted[k], 1e-4);
    ids.push_back(best);
  }
  // Streamed: the same entries, spread over the chunks.
  json streamed = json::array();
  for (const auto& e : post_stream(plain(), "/v1/chat/completions", req)) {
    const json& lp = e["choices"][0]["logprobs"];
    if (!lp.is_null())
      for (const auto& x : lp["content"]) streamed.push_back(x);
  }
  EXPECT_EQ(streamed, content);
  // Without logprobs: null.
  Reply plain_reply = post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"max_tokens", 2}});
  EXPECT_TRUE(plain_reply.body["choices"][0]["logprobs"].is_null());
}

TEST_F(OpenAIFeatures, CompletionLogprobsLegacyShape) {
  const json req = {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 8}, {"logprobs", 2}};
  Reply r = post(plain(), "/v1/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& lp = r.body["choices"][0]["logprobs"];
  // One entry per generated token but a final EOS.
  const size_t n = lp["tokens"].size();
  ASSERT_GE(n, 1u) << r.raw;
  EXPECT_EQ(n + (r.body["choices"][0]["finish_reason"] == "stop" ? 1 : 0), r.body["usage"]["completion_tokens"]);
  std::string joined;
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(lp["text_offset"][i], joined.size());
    joined += lp["tokens"][i].get<std::string>();
    EXPECT_LE(lp["top_logprobs"][i].size(), 2u);
    EXPECT_GE(lp["top_logprobs"][i].size(), 1u);
    EXPECT_NEAR(lp["top_logprobs"][i][lp["tokens"][i].get<std::string>()].get<double>(), lp["token_logprobs"][i].get<double>(), 1e-6);
  }
  EXPECT_EQ(joined, r.body["choices"][0]["text"]);
  json tokens = json::array(), values = json::array(), offsets = json::array();
  for (const auto& e : post_stream(plain(), "/v1/completions", req)) {
    const json& l = e["choices"][0]["logprobs"];
    if (l.is_null()) continue;
    for (const auto& x : l["tokens"]) tokens.push_back(x);
    for (const auto& x : l["token_logprobs"]) values.push_back(x);
    for (const auto& x : l["text_offset"]) offsets.push_back(x);
  }
  EXPECT_EQ(tokens, lp["tokens"]);
  EXPECT_EQ(values, lp["token_logprobs"]);
  EXPECT_EQ(offsets, lp["text_offset"]);
  expect_error(post(plain(), "/v1/completions", {{"prompt", "x"}, {"logprobs", 2}, {"num_beams", 2}}), 400, "beam", "logprobs");
  expect_error(post(plain(), "/v1/chat/completions", {{"messages", user("x")}, {"top_logprobs", 2}}), 400, "logprobs",
               "top_logprobs");
}

TEST_F(OpenAIFeatures, PresenceAndFrequencyPenaltiesMatchAGreedyLoopWrittenHere) {
  const std::string prompt = "Once upon a time";
  const float presence = 1.5f, frequency = 0.75f;
  const int n = 12;
  Reply r = post(plain(), "/v1/completions", {{"prompt", prompt}, {"temperature", 0}, {"max_tokens", n}, {"ignore_eos", true},
                                              {"presence_penalty", presence}, {"frequency_penalty", frequency}});
  ASSERT_EQ(r.status, 200) << r.raw;
  // logits[t] -= frequency * count(t in generated) + presence * (count > 0), then argmax.
  std::vector<int32_t> ids = (*tok_)->encode(prompt, true);
  std::vector<int32_t> generated;
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    const Model& m = **model_;
    auto state = m.new_state(1, static_cast<int>(ids.size()) + 1);
    std::span<const float> logits = m.decode(ids, {}, static_cast<int>(ids.size()), *state, false);
    std::vector<float> s(logits.begin(), logits.end());
    for (auto [t, c] : counts) {
      s[t] -= frequency * float(c);
      s[t] -= presence;
    }
    const int32_t best = static_cast<int32_t>(std::max_element(s.begin(), s.end()) - s.begin());
    generated.push_back(best);
    ids.push_back(best);
    ++counts[best];
  }
  EXPECT_EQ(r.body["choices"][0]["text"], (*tok_)->decode(generated, true));
  // The penalties change the greedy reply of this prompt (the unpenalised one repeats itself).
  Reply base = post(plain(), "/v1/completions", {{"prompt", prompt}, {"temperature", 0}, {"max_tokens", n}, {"ignore_eos", true}});
  EXPECT_NE(base.body["choices"][0]["text"], r.body["choices"][0]["text"]);
  expect_error(post(plain(), "/v1/completions", {{"prompt", "x"}, {"presence_penalty", -3}}), 400, "[-2, 2]", "presence_penalty");
}

TEST_F(OpenAIFeatures, LogitBiasAddsToTheTokensScore) {
  const json base_req = {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 4}, {"logprobs", 1}};
  Reply base = post(plain(), "/v1/completions", base_req);
  ASSERT_EQ(base.status, 200) << base.raw;
  const std::string first = base.body["choices"][0]["logprobs"]["tokens"][0];
  const int32_t first_id = (*tok_)->encode(first, false).at(0);
  // Banning the greedy first token changes it; +100 on a token makes greedy repeat it.
  json req = base_req;
  req["logit_bias"] = {{std::to_string(first_id), -100}};
  Reply banned = post(plain(), "/v1/completions", req);
  ASSERT_EQ(banned.status, 200) << banned.raw;
  EXPECT_NE(banned.body["choices"][0]["logprobs"]["tokens"][0], first);
  req["logit_bias"] = {{"100", 100}};
  Reply forced = post(plain(), "/v1/completions", req);
  const int32_t hundred[4] = {100, 100, 100, 100};
  EXPECT_EQ(forced.body["choices"][0]["text"], (*tok_)->decode(hundred, true));
  expect_error(post(plain(), "/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"5", 101}}}}), 400, "[-100, 100]", "logit_bias");
  expect_error(post(plain(), "/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"99999", 1}}}}), 400, "vocabulary", "logit_bias");
  expect_error(post(plain(), "/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"a", 1}}}}), 400, "token id", "logit_bias");
}

TEST_F(OpenAIFeatures, VllmExtras) {
  const json msgs = user("What is 12 + 30?");
  Reply stop = post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 40}});
  ASSERT_EQ(stop.status, 200) << stop.raw;
  ASSERT_EQ(stop.body["choices"][0]["finish_reason"], "stop");
  const int natural = stop.body["usage"]["completion_tokens"];
  Reply ignore = post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 40}, {"ignore_eos", true}});
  EXPECT_EQ(ignore.body["usage"]["completion_tokens"], 40) << ignore.raw;
  EXPECT_EQ(ignore.body["choices"][0]["finish_reason"], "length");
  Reply min = post(plain(), "/v1/chat/completions",
                   {{"messages", msgs}, {"temperature", 0}, {"max_tokens", 40}, {"min_tokens", natural + 5}});
  EXPECT_GE(min.body["usage"]["completion_tokens"].get<int>(), natural + 5) << min.raw;
  Reply topk = post(plain(), "/v1/chat/completions", {{"messages", msgs}, {"temperature", 0.5}, {"top_k", -1}, {"min_p", 0.1},
                                                      {"repetition_penalty", 1.1}, {"max_tokens", 4}});
  EXPECT_EQ(topk.status, 200) << topk.raw;
}

TEST_F(OpenAIFeatures, DeveloperRoleIsSystemForTemplatesWithoutIt) {
  const json dev = json::array({{{"role", "developer"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "hi"}}});
  const json sys = json::array({{{"role", "system"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "hi"}}});
  EXPECT_EQ(chat_prompt(plain(), dev), chat_prompt(plain(), sys));
  Reply r = post(plain(), "/v1/chat/completions", {{"messages", dev}, {"max_tokens", 2}});
  EXPECT_EQ(r.status, 200) << r.raw;
}

TEST_F(OpenAIFeatures, TokenizeDetokenizeAndModelLength) {
  // vLLM shapes.
  Reply t = post(plain(), "/tokenize", {{"prompt", "What is 12 + 30?"}, {"return_token_strs", true}});
  ASSERT_EQ(t.status, 200) << t.raw;
  const auto ids = (*tok_)->encode("What is 12 + 30?", true);
  EXPECT_EQ(t.body["tokens"], json(ids));
  EXPECT_EQ(t.body["count"], ids.size());
  EXPECT_EQ(t.body["max_model_len"], 512);
  EXPECT_EQ(t.body["token_strs"].size(), ids.size());
  Reply d = post(plain(), "/detokenize", {{"tokens", ids}});
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_EQ(d.body["prompt"], "What is 12 + 30?");
  EXPECT_EQ(d.body["content"], "What is 12 + 30?");
  // Chat messages: the prompt /v1/chat/completions generates from (its prompt_tokens).
  Reply c = post(plain(), "/tokenize", {{"messages", user("What is 12 + 30?")}});
  Reply g = post(plain(), "/v1/chat/completions", {{"messages", user("What is 12 + 30?")}, {"max_tokens", 1}});
  EXPECT_EQ(c.body["count"], g.body["usage"]["prompt_tokens"]);
  // llama-server shapes.
  Reply l = post(plain(), "/tokenize", {{"content", "hello world"}, {"with_pieces", true}});
  ASSERT_EQ(l.status, 200) << l.raw;
  std::string pieces;
  for (const auto& p : l.body["tokens"]) pieces += p["piece"].get<std::string>();
  EXPECT_EQ(pieces, "hello world");
  // /v1/models reports the context.
  httplib::Client cli("127.0.0.1", plain());
  auto m = cli.Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["max_model_len"], 512);
  // Bad input.
  expect_error(post(plain(), "/detokenize", {{"tokens", {1, 99999}}}), 400, "vocabulary", "tokens");
  expect_error(post(plain(), "/detokenize", {{"tokens", "abc"}}), 400, "array", "tokens");
  expect_error(post(plain(), "/tokenize", {{"nothing", 1}}), 400, "prompt", "prompt");
  expect_error(post(plain(), "/tokenize", {{"prompt", 5}}), 400, "string", "prompt");
  auto get = cli.Get("/tokenize");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
}

}  // namespace
}  // namespace autolm::server
