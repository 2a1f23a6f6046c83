// autolm_server over HTTP: an in-process server on an ephemeral port, driven by httplib::Client,
// on the bundled demo models (models/chat-tiny, models/t5-numbers). Plus `autolm serve` as a process.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "autolm/auto.h"
#include "autolm/tokenizer.h"
#include "fixtures.h"
#include "server/server.h"

extern char** environ;

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;

std::string demo(const std::string& name) { return std::string(AUTOLM_SOURCE_DIR) + "/models/" + name; }

const char* kChatPrompt = "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n";
const char* kChatAnswer = "12 + 30 = 42.";
const char* kT5Answer = "four thousand twenty-one";

json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

Reply to_reply(const httplib::Result& res) {
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  try {
    r.body = json::parse(res->body);
  } catch (const std::exception&) {
  }
  return r;
}

Reply post(int port, const std::string& path, const std::string& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  return to_reply(cli.Post(path.c_str(), body, "application/json"));
}
Reply post(int port, const std::string& path, const json& body) { return post(port, path, body.dump()); }

Reply get(int port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  return to_reply(cli.Get(path.c_str()));
}

// A streamed request: the payload of every "data: " event, in order.
struct Stream {
  int status = 0;
  std::string content_type;
  std::vector<std::string> events;
};

Stream post_stream(int port, const std::string& path, json body) {
  body["stream"] = true;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  std::string raw;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    raw.append(data, n);
    return true;
  };
  auto res = cli.send(req);
  Stream s;
  if (!res) return s;
  s.status = res->status;
  s.content_type = res->get_header_value("Content-Type");
  size_t pos = 0;
  while (true) {
    size_t end = raw.find("\n\n", pos);
    if (end == std::string::npos) break;
    std::string ev = raw.substr(pos, end - pos);
    pos = end + 2;
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    s.events.push_back(ev.substr(6));
  }
  EXPECT_EQ(pos, raw.size()) << "trailing bytes after the last event";
  return s;
}

// Concatenated text of choice `index` in a stream of completion or chat chunks, and its finish_reason.
std::pair<std::string, std::string> collect(const Stream& s, int index = 0) {
  std::string text, finish;
  for (const auto& e : s.events) {
    if (e == "[DONE]") continue;
    json j = json::parse(e);
    for (const auto& c : j["choices"]) {
      if (c["index"] != index) continue;
      if (c.contains("delta")) {
        if (c["delta"].contains("content") && c["delta"]["content"].is_string()) text += c["delta"]["content"].get<std::string>();
      } else {
        text += c["text"].get<std::string>();
      }
      if (!c["finish_reason"].is_null()) finish = c["finish_reason"];
    }
  }
  return {text, finish};
}

void expect_error(const Reply& r, int status, const std::string& message_part, const char* param = nullptr) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
  const json& e = r.body["error"];
  EXPECT_TRUE(e["message"].is_string());
  EXPECT_NE(e["message"].get<std::string>().find(message_part), std::string::npos) << e["message"];
  EXPECT_EQ(e["type"], status >= 500 ? "server_error" : "invalid_request_error");
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  if (param) {
    EXPECT_EQ(e["param"], param) << r.raw;
  }
}

std::unique_ptr<Server> make_server(const std::string& dir, int parallel = 2, const std::string& name = "") {
  ServerOptions o;
  o.model = load_model(dir);
  o.tokenizer = AutoTokenizer::from_pretrained(dir);
  o.port = 0;
  o.parallel = parallel;
  o.model_name = name;
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    chat_ = make_server(demo("chat-tiny")).release();
    t5_ = make_server(demo("t5-numbers"), 2, "numbers").release();
  }
  static void TearDownTestSuite() {
    delete chat_;
    delete t5_;
  }
  static int chat() { return chat_->port(); }
  static int t5() { return t5_->port(); }
  static Server* chat_;
  static Server* t5_;
};
Server* ServerTest::chat_ = nullptr;
Server* ServerTest::t5_ = nullptr;

TEST_F(ServerTest, Health) {
  Reply r = get(chat(), "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, json({{"status", "ok"}}));
}

TEST_F(ServerTest, ModelsListNamesTheModel) {
  Reply r = get(chat(), "/v1/models");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["object"], "list");
  ASSERT_EQ(r.body["data"].size(), 1u);
  const json& m = r.body["data"][0];
  EXPECT_EQ(m["id"], "chat-tiny");  // the folder's basename
  EXPECT_EQ(m["object"], "model");
  EXPECT_EQ(m["owned_by"], "autolm");
  EXPECT_GT(m["created"].get<int64_t>(), 1600000000);
  EXPECT_EQ(get(t5(), "/v1/models").body["data"][0]["id"], "numbers");  // --model-name
  EXPECT_EQ(get(t5(), "/v1/models/numbers").body["id"], "numbers");
  expect_error(get(t5(), "/v1/models/other"), 404, "does not exist", "model");
}

TEST_F(ServerTest, CompletionGreedySeq2Seq) {
  Reply r = post(t5(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "text_completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(r.body["model"], "numbers");
  ASSERT_EQ(r.body["choices"].size(), 1u);
  const json& c = r.body["choices"][0];
  EXPECT_EQ(c["text"], kT5Answer);
  EXPECT_EQ(c["index"], 0);
  EXPECT_TRUE(c["logprobs"].is_null());
  EXPECT_EQ(c["finish_reason"], "stop");
  auto tok = AutoTokenizer::from_pretrained(demo("t5-numbers"));
  const int prompt_tokens = static_cast<int>(tok->encode("spell: 4021").size());
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], prompt_tokens);
  EXPECT_GT(r.body["usage"]["completion_tokens"].get<int>(), 0);
  EXPECT_EQ(r.body["usage"]["total_tokens"].get<int>(), prompt_tokens + r.body["usage"]["completion_tokens"].get<int>());
}

// Every encoder-decoder fixture behind the server: a greedy completion of the first reference
// prompt is transformers' text (the demo t5-numbers has its own tests above). The folders of
// tests/data/make_t5_arch_fixtures.py hold no tokenizer: their references used t5-unigram's.
TEST(ServerSeq2SeqModels, GreedyCompletionIsTheReferenceText) {
  for (const std::string& name : test::seq2seq_models()) {
    if (test::is_demo(name)) continue;
    const auto ref = test::load_ref(name);
    const auto& c = ref["cases"][0];
    const auto& g = c["gen"]["greedy"];
    const std::string dir = test::model_dir(name);
    ServerOptions o;
    o.model = load_model(dir);
    o.tokenizer = AutoTokenizer::from_pretrained(std::filesystem::exists(dir + "/tokenizer.json")
                                                     ? dir
                                                     : test::fixtures() + "/tokenizers/t5-unigram");
    o.port = 0;
    o.parallel = 1;
    auto srv = std::make_unique<Server>(std::move(o));
    srv->start();
    Reply r = post(srv->port(), "/v1/completions",
                   json{{"prompt", c["prompt"]}, {"temperature", 0}, {"max_tokens", g["params"]["max_new_tokens"]}});
    ASSERT_EQ(r.status, 200) << name << ": " << r.raw;
    EXPECT_EQ(r.body["choices"][0]["text"], g["text"][0]) << name;
  }
}

TEST_F(ServerTest, CompletionGreedyCausal) {
  Reply r = post(chat(), "/v1/completions", json{{"prompt", kChatPrompt}, {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["text"], kChatAnswer);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
}

// --draft-model: the same answer as without it, with the drafts' acceptance in usage; requests
// with several choices run without the draft.
TEST(ServerDraft, DraftModelKeepsTheAnswerAndReportsAcceptance) {
  ServerOptions o;
  o.model = load_model(demo("chat-tiny"));
  o.draft_model = o.model;
  o.tokenizer = AutoTokenizer::from_pretrained(demo("chat-tiny"));
  o.port = 0;
  Server s(std::move(o));
  const int port = s.start();
  Reply r = post(port, "/v1/completions", json{{"prompt", kChatPrompt}, {"temperature", 0}, {"max_tokens", 32}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["text"], kChatAnswer);
  const auto& details = r.body["usage"]["completion_tokens_details"];
  ASSERT_TRUE(details.is_object()) << r.raw;
  EXPECT_GT(details["accepted_prediction_tokens"].get<int64_t>(), 0) << r.raw;
  EXPECT_GE(details["rejected_prediction_tokens"].get<int64_t>(), 0) << r.raw;
  Reply two = post(port, "/v1/completions",
                   json{{"prompt", kChatPrompt}, {"temperature", 0.5}, {"n", 2}, {"seed", 1}, {"max_tokens", 4}});
  ASSERT_EQ(two.status, 200) << two.raw;
  EXPECT_FALSE(two.body["usage"].contains("completion_tokens_details")) << two.raw;
  s.stop();
}

TEST_F(ServerTest, CompletionPromptListIsOneChoicePerPrompt) {
  Reply single = post(t5(), "/v1/completions", json{{"prompt", "spell: 17"}, {"temperature", 0}});
  ASSERT_EQ(single.status, 200) << single.raw;
  Reply r = post(t5(), "/v1/completions", json{{"prompt", {"spell: 4021", "spell: 17"}}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["choices"].size(), 2u);
  EXPECT_EQ(r.body["choices"][0]["text"], kT5Answer);
  EXPECT_EQ(r.body["choices"][0]["index"], 0);
  EXPECT_EQ(r.body["choices"][1]["text"], single.body["choices"][0]["text"]);
  EXPECT_EQ(r.body["choices"][1]["index"], 1);
  // Token-id prompts are accepted as OpenAI does.
  auto ids = AutoTokenizer::from_pretrained(demo("t5-numbers"))->encode("spell: 4021");
  Reply by_ids = post(t5(), "/v1/completions", json{{"prompt", ids}, {"temperature", 0}});
  ASSERT_EQ(by_ids.status, 200) << by_ids.raw;
  EXPECT_EQ(by_ids.body["choices"][0]["text"], kT5Answer);
}

TEST_F(ServerTest, ChatGreedy) {
  Reply r = post(chat(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r.body["model"], "chat-tiny");
  const json& c = r.body["choices"][0];
  EXPECT_EQ(c["index"], 0);
  EXPECT_EQ(c["message"]["role"], "assistant");
  EXPECT_EQ(c["message"]["content"], kChatAnswer);
  EXPECT_EQ(c["finish_reason"], "stop");
  auto tok = AutoTokenizer::from_pretrained(demo("chat-tiny"));
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], tok->encode(kChatPrompt, false).size());
  // Content given as text parts renders the same prompt.
  json parts = json::array({{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "What is 12 + 30?"}}})}}});
  Reply p = post(chat(), "/v1/chat/completions", json{{"messages", parts}, {"temperature", 0}});
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["choices"][0]["message"]["content"], kChatAnswer);
}

TEST_F(ServerTest, ChatSeq2SeqWithoutTemplateUsesLastMessage) {
  Reply r = post(t5(), "/v1/chat/completions", json{{"messages", user("spell: 4021")}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], kT5Answer);
}

TEST_F(ServerTest, ChatCausalWithoutTemplateIsRefused) {
  // chat-tiny's files without chat_template.jinja.
  const auto dir = std::filesystem::path(::testing::TempDir()) / ("autolm_no_template_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    if (!std::filesystem::exists(dir / f)) std::filesystem::copy_file(demo("chat-tiny") + "/" + f, dir / f);
  auto srv = make_server(dir.string(), 1);
  expect_error(post(srv->port(), "/v1/chat/completions", json{{"messages", user("hi")}}), 400, "no chat template", "messages");
  // Completions still work.
  Reply r = post(srv->port(), "/v1/completions", json{{"prompt", kChatPrompt}, {"temperature", 0}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["text"], kChatAnswer);
  srv.reset();
  std::filesystem::remove_all(dir);
}

TEST_F(ServerTest, StreamingChatMatchesWholeResponse) {
  json req{{"messages", user("What is 12 + 30?")}, {"temperature", 0}};
  Reply whole = post(chat(), "/v1/chat/completions", req);
  ASSERT_EQ(whole.status, 200);
  Stream s = post_stream(chat(), "/v1/chat/completions", req);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.content_type.rfind("text/event-stream", 0), 0u) << s.content_type;
  ASSERT_GE(s.events.size(), 4u);
  EXPECT_EQ(s.events.back(), "[DONE]");
  json first = json::parse(s.events[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  json last = json::parse(s.events[s.events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  auto [text, finish] = collect(s);
  EXPECT_EQ(text, whole.body["choices"][0]["message"]["content"]);
  EXPECT_EQ(text, kChatAnswer);
  EXPECT_GT(s.events.size(), 5u) << "the reply should arrive in several pieces";
  for (size_t i = 0; i + 1 < s.events.size(); ++i) EXPECT_EQ(json::parse(s.events[i])["id"], first["id"]);
}

TEST_F(ServerTest, StreamingCompletionWithUsage) {
  json req{{"prompt", "spell: 4021"}, {"temperature", 0}, {"stream_options", {{"include_usage", true}}}};
  Reply whole = post(t5(), "/v1/completions", req);
  Stream s = post_stream(t5(), "/v1/completions", req);
  ASSERT_EQ(s.status, 200);
  ASSERT_GE(s.events.size(), 3u);
  EXPECT_EQ(s.events.back(), "[DONE]");
  auto [text, finish] = collect(s);
  EXPECT_EQ(text, kT5Answer);
  EXPECT_EQ(finish, "stop");
  json usage_chunk = json::parse(s.events[s.events.size() - 2]);
  EXPECT_EQ(usage_chunk["choices"], json::array());
  EXPECT_EQ(usage_chunk["usage"], whole.body["usage"]);
  EXPECT_EQ(json::parse(s.events[0])["object"], "text_completion");
}

TEST_F(ServerTest, StopStringsEndTheTextBeforeTheStop) {
  json req{{"messages", user("What is 12 + 30?")}, {"temperature", 0}, {"stop", {" =", "zzz"}}};
  Reply r = post(chat(), "/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "12 + 30");
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "stop");
  EXPECT_LT(r.body["usage"]["completion_tokens"].get<int>(), 12);  // generation stopped early
  Stream s = post_stream(chat(), "/v1/chat/completions", req);
  auto [text, finish] = collect(s);
  EXPECT_EQ(text, "12 + 30");
  EXPECT_EQ(finish, "stop");
  Reply t = post(t5(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}, {"stop", "-"}});
  EXPECT_EQ(t.body["choices"][0]["text"], "four thousand twenty");
}

TEST_F(ServerTest, MaxTokensGivesLengthAndCounts) {
  Reply r = post(chat(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}, {"max_tokens", 3}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "12 +");
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 3);
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 18);
  EXPECT_EQ(r.body["usage"]["total_tokens"], 21);
  Reply m = post(chat(), "/v1/chat/completions",
                 json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}, {"max_completion_tokens", 3}});
  EXPECT_EQ(m.body["usage"]["completion_tokens"], 3);
  Stream s = post_stream(t5(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}, {"max_tokens", 2}});
  auto [text, finish] = collect(s);
  EXPECT_EQ(text, "four thousand");
  EXPECT_EQ(finish, "length");
}

TEST_F(ServerTest, MaxTokensPastTheContextIsRefused) {
  // chat-tiny: 512 positions. An explicit max_tokens that does not fit is a 400 naming the limit
  // (vLLM's behaviour); one that fits exactly runs to the context with "length".
  Reply r = post(chat(), "/v1/completions",
                 json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 4000}, {"min_new_tokens", 600}});
  expect_error(r, 400, "maximum context length is 512 tokens", "max_tokens");
  EXPECT_EQ(r.body["error"]["code"], "context_length_exceeded");
  Reply p = post(chat(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 1}});
  ASSERT_EQ(p.status, 200) << p.raw;
  const int prompt = p.body["usage"]["prompt_tokens"];
  Reply full = post(chat(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"temperature", 0},
                                                   {"max_tokens", 512 - prompt}, {"min_new_tokens", 600}});
  ASSERT_EQ(full.status, 200) << full.raw;
  EXPECT_EQ(full.body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(full.body["usage"]["total_tokens"], 512);
}

TEST_F(ServerTest, SeededSamplingIsReproducible) {
  auto sample = [&](int seed) {
    Reply r = post(chat(), "/v1/completions",
                   json{{"prompt", "Once upon a time"}, {"temperature", 1.5}, {"max_tokens", 12}, {"seed", seed}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body["choices"][0]["text"].get<std::string>();
  };
  const std::string a = sample(7);
  EXPECT_EQ(sample(7), a);
  std::set<std::string> texts;
  for (int seed = 1; seed <= 4; ++seed) texts.insert(sample(seed));
  EXPECT_GT(texts.size(), 1u) << "different seeds should sample differently";
  // HF extension fields keep their meaning: top_k 1 is greedy even at temperature 1.5.
  Reply greedy = post(chat(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 12}});
  Reply topk1 = post(chat(), "/v1/completions",
                     json{{"prompt", "Once upon a time"}, {"temperature", 1.5}, {"top_k", 1}, {"max_tokens", 12}, {"seed", 3}});
  EXPECT_EQ(topk1.body["choices"][0]["text"], greedy.body["choices"][0]["text"]);
}

TEST_F(ServerTest, SeveralChoicesWithN) {
  Reply r = post(chat(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}, {"n", 2}});
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(r.body["choices"][i]["index"], i);
    EXPECT_EQ(r.body["choices"][i]["message"]["content"], kChatAnswer);
  }
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], 18);
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 24);
  Stream s = post_stream(chat(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}, {"n", 2}});
  EXPECT_EQ(collect(s, 0).first, kChatAnswer);
  EXPECT_EQ(collect(s, 1).first, kChatAnswer);
}

TEST_F(ServerTest, BadRequestsGetOpenAIErrors) {
  const json msgs = user("hi");
  expect_error(post(chat(), "/v1/chat/completions", std::string("{\"messages\": [")), 400, "could not parse the JSON");
  expect_error(post(chat(), "/v1/chat/completions", std::string("[1, 2]")), 400, "JSON object");
  // Deep nesting is refused before anything recurses over it (it would overflow the stack).
  const std::string deep = "{\"prompt\": \"x\", \"top_k\": " + std::string(200000, '[') + std::string(200000, ']') + "}";
  expect_error(post(t5(), "/v1/completions", deep), 400, "nested more than");
  expect_error(post(chat(), "/v1/chat/completions", json{{"temperature", 0}}), 400, "Missing required parameter: 'messages'",
               "messages");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", "hi"}}), 400, "Invalid type for 'messages'", "messages");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", json::array()}}), 400, "at least one message", "messages");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", json::array({{{"role", "robot"}, {"content", "x"}}})}}),
               400, "'robot'", "messages[0].role");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", json::array({{{"role", "user"}}})}}), 400,
               "messages[0].content", "messages[0].content");
  expect_error(post(chat(), "/v1/chat/completions",
                    json{{"messages", json::array({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}})}}),
               400, "text only");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", "10"}}), 400,
               "Invalid type for 'max_tokens'", "max_tokens");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 0}}), 400, "at least 1", "max_tokens");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"temperature", "hot"}}), 400,
               "Invalid type for 'temperature'", "temperature");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"temperature", -1}}), 400, "temperature",
               "temperature");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"stream", "yes"}}), 400, "a boolean", "stream");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"stop", 5}}), 400, "Invalid type for 'stop'", "stop");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"n", 0}}), 400, "'n'", "n");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"n", 17}}), 400, "'n'", "n");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"logprobs", true}, {"top_logprobs", 21}}),
               400, "between 0 and 20", "top_logprobs");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"frequency_penalty", 2.5}}), 400,
               "[-2, 2]", "frequency_penalty");
  expect_error(post(chat(), "/v1/chat/completions",
                    json{{"messages", msgs},
                         {"response_format", {{"type", "json_schema"},
                                              {"json_schema", {{"name", "x"}, {"schema", {{"type", "string"}, {"pattern", "a"}}}}}}}}),
               400, "\"pattern\"", "response_format.json_schema.schema");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"bogus", 1}}), 400, "Unrecognized request argument",
               "bogus");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"max_new_tokens", 5}}), 400, "max_tokens",
               "max_new_tokens");
  // HF extension fields are validated as GenerationConfig validates them.
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"repetition_penalty", -1}}), 400,
               "repetition_penalty");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"top_k", "many"}}), 400, "top_k");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"guidance_scale", 3}}), 400,
               "classifier-free guidance", "guidance_scale");
  expect_error(post(chat(), "/v1/chat/completions", json{{"messages", msgs}, {"top_p", 0}}), 400, "top_p");
  // Completions-specific refusals.
  expect_error(post(t5(), "/v1/completions", json{{"temperature", 0}}), 400, "'prompt'", "prompt");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", 42}}), 400, "Invalid type for 'prompt'", "prompt");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", json::array()}}), 400, "empty", "prompt");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", "x"}, {"echo", true}}), 400, "echo", "echo");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", "x"}, {"logprobs", 21}}), 400, "logprobs", "logprobs");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", json::array({1, 999999})}}), 400, "outside the vocabulary", "prompt");
  expect_error(post(t5(), "/v1/completions", json{{"prompt", "x"}, {"num_beams", 2}, {"stream", true}}), 400, "stream",
               "num_beams");
}

TEST_F(ServerTest, PromptTooLongIsRefused) {
  std::string long_prompt = "spell:";
  for (int i = 0; i < 100; ++i) long_prompt += " 1";
  Reply r = post(t5(), "/v1/completions", json{{"prompt", long_prompt}});
  expect_error(r, 400, "at most 64 input tokens", "prompt");
  EXPECT_EQ(r.body["error"]["code"], "context_length_exceeded");
  std::string chat_long;
  for (int i = 0; i < 600; ++i) chat_long += " hello";
  Reply c = post(chat(), "/v1/chat/completions", json{{"messages", user(chat_long)}});
  expect_error(c, 400, "maximum context length is 512", "messages");
}

TEST_F(ServerTest, RoutesMethodsAndBodySize) {
  expect_error(get(chat(), "/v1/nothing"), 404, "Unknown request URL");
  expect_error(post(chat(), "/v2/chat/completions", json{{"messages", user("hi")}}), 404, "Unknown request URL");
  expect_error(get(chat(), "/v1/chat/completions"), 405, "not allowed");
  expect_error(post(chat(), "/health", json::object()), 405, "not allowed");
  std::string big = "{\"prompt\": \"" + std::string(9u << 20, 'a') + "\"}";
  Reply r = post(chat(), "/v1/completions", big);
  expect_error(r, 413, "larger than the server's limit");
  EXPECT_EQ(get(chat(), "/health").status, 200);
}

// Requests from several threads at once give what they give one after the other.
TEST_F(ServerTest, ConcurrentRequestsMatchSequential) {
  struct Call {
    int port;
    std::string path;
    json body;
  };
  std::vector<Call> calls = {
      {chat(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}}},
      {chat(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 20}}},
      {chat(), "/v1/completions", json{{"prompt", "The cat"}, {"temperature", 0.8}, {"seed", 11}, {"max_tokens", 20}}},
      {t5(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}}},
      {t5(), "/v1/completions", json{{"prompt", "spell: 958"}, {"temperature", 0}}},
      {chat(), "/v1/chat/completions", json{{"messages", user("What is 7 + 5?")}, {"temperature", 0}, {"stream", false}}},
  };
  auto text = [](const Reply& r) {
    const json& c = r.body["choices"][0];
    return c.contains("message") ? c["message"]["content"].get<std::string>() : c["text"].get<std::string>();
  };
  std::vector<std::string> sequential;
  for (const auto& c : calls) {
    Reply r = post(c.port, c.path, c.body);
    ASSERT_EQ(r.status, 200) << r.raw;
    sequential.push_back(text(r));
  }
  for (int round = 0; round < 2; ++round) {
    std::vector<Reply> replies(calls.size() * 2);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < replies.size(); ++i)
      threads.emplace_back([&, i] {
        const Call& c = calls[i % calls.size()];
        replies[i] = post(c.port, c.path, c.body);
      });
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < replies.size(); ++i) {
      ASSERT_EQ(replies[i].status, 200) << replies[i].raw;
      EXPECT_EQ(text(replies[i]), sequential[i % calls.size()]) << "call " << i % calls.size();
    }
  }
  EXPECT_EQ(chat_->stats().active, 0);
}

// --parallel 1: concurrent requests queue for the one generation slot.
TEST(ServerSlots, AtMostParallelRequestsGenerate) {
  auto srv = make_server(demo("chat-tiny"), 1);
  std::atomic<bool> done{false};
  int max_active = 0, max_waiting = 0;
  std::thread monitor([&] {
    while (!done) {
      auto st = srv->stats();
      max_active = std::max(max_active, st.active);
      max_waiting = std::max(max_waiting, st.waiting);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> threads;
  std::vector<int> status(4);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      json body{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 150}, {"min_new_tokens", 150}};
      if (i % 2) status[i] = post_stream(srv->port(), "/v1/completions", body).status;
      else status[i] = post(srv->port(), "/v1/completions", body).status;
    });
  for (auto& t : threads) t.join();
  done = true;
  monitor.join();
  for (int s : status) EXPECT_EQ(s, 200);
  EXPECT_EQ(max_active, 1);
  EXPECT_GE(max_waiting, 1);
  // A stream's slot is released just after its last event went out: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (srv->stats().generations < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(srv->stats().generations, 4u);
}

// A client that hangs up mid-stream stops its generation; the server goes on serving.
TEST(ServerDisconnect, ClientGoneStopsGenerationAndServerServesNext) {
  auto srv = make_server(demo("chat-tiny"), 1);
  {
    httplib::Client cli("127.0.0.1", srv->port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 480}, {"min_new_tokens", 480}, {"stream", true}}
                   .dump();
    req.set_header("Content-Type", "application/json");
    int chunks = 0;
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 2; };
    auto res = cli.send(req);
    EXPECT_FALSE(res);  // cancelled by the receiver
    EXPECT_EQ(chunks, 2);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (srv->stats().generations < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(srv->stats().generations, 1u);
  EXPECT_EQ(srv->stats().cancelled, 1u) << "generation should stop when the client is gone";
  Reply r = post(srv->port(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], kChatAnswer);
}

// stop() ends a long stream promptly and refuses nothing it already answered.
TEST(ServerStop, StopInterruptsRunningStream) {
  auto srv = make_server(demo("chat-tiny"), 1);
  std::atomic<int> chunks{0};
  std::thread client([&] {
    httplib::Client cli("127.0.0.1", srv->port());
    cli.set_read_timeout(60, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = json{{"prompt", "Once"}, {"temperature", 0}, {"max_tokens", 500}, {"min_new_tokens", 500}, {"stream", true}}.dump();
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      ++chunks;
      return true;
    };
    cli.send(req);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (chunks < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GE(chunks, 3) << "no stream arrived";
  const auto t0 = std::chrono::steady_clock::now();
  srv->stop();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  client.join();
  EXPECT_LT(seconds, 5.0);
  EXPECT_FALSE(srv->running());
}

// `autolm serve` as a process: prints the port it chose, serves, exits 0 on SIGTERM.
TEST(ServeCommand, ServesAndStopsOnSigterm) {
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  const std::string cli = AUTOLM_CLI, dir = demo("t5-numbers");
  std::vector<std::string> args = {cli, "serve", dir, "--port", "0", "--model-name", "spell"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, cli.c_str(), &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, size_t(n));
  }
  ::close(out[0]);
  const size_t colon = line.find("127.0.0.1:");
  int port = colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 10);
  EXPECT_GT(port, 0) << line;
  if (port > 0) {
    // Bound before loading: /health says "loading" (503) until the model is in.
    Reply h = get(port, "/health");
    for (int i = 0; i < 600 && h.status == 503; ++i) {
      EXPECT_EQ(h.body, json({{"status", "loading"}}));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      h = get(port, "/health");
    }
    EXPECT_EQ(h.status, 200);
    Reply r = post(port, "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}});
    EXPECT_EQ(r.body["choices"][0]["text"], kT5Answer) << r.raw;
    EXPECT_EQ(r.body["model"], "spell");
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && done == 0; ++i) {
    done = ::waitpid(pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "autolm serve did not exit after SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace autolm::server
