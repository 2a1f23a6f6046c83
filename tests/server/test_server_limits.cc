// autolm_server against hostile clients (issue #11): bodies and headers too large however
// they are framed, slow clients, hostile JSON, requests over the per-request limits, failures
// inside a request. Each test writes the hostile request itself, checks the answer (a 4xx with
// OpenAI's error shape naming the field and value, or a closed connection), and that the
// server goes on serving good requests — also while the bad ones run.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "autolm/auto.h"
#include "autolm/error.h"
#include "autolm/tokenizer.h"
#include "server/server.h"

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string demo(const std::string& name) { return std::string(AUTOLM_SOURCE_DIR) + "/models/" + name; }

const char* kChatAnswer = "12 + 30 = 42.";

json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }

struct Reply {
  int status = 0;
  json body;
  std::string raw;
};

Reply post(int port, const std::string& path, const std::string& body) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  auto res = cli.Post(path.c_str(), body, "application/json");
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
Reply post(int port, const std::string& path, const json& body) { return post(port, path, body.dump()); }

int health(int port) {
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/health");
  return res ? res->status : 0;
}

// OpenAI's error shape, the status, a part of the message, and the field in `param`.
void expect_error(const Reply& r, int status, const std::string& message_part, const char* param = nullptr) {
  EXPECT_EQ(r.status, status) << r.raw;
  ASSERT_TRUE(r.body.is_object() && r.body.contains("error")) << r.raw;
  const json& e = r.body["error"];
  ASSERT_TRUE(e["message"].is_string()) << r.raw;
  EXPECT_NE(e["message"].get<std::string>().find(message_part), std::string::npos) << e["message"];
  EXPECT_EQ(e["type"], status >= 500 ? "server_error" : "invalid_request_error") << r.raw;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r.raw;
  if (param) {
    EXPECT_EQ(e["param"], param) << r.raw;
  }
}

// A raw TCP connection, for what httplib::Client will not send.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() { ::close(fd_); }
  bool connected() const { return connected_; }
  // False once the server closed or reset the connection.
  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += size_t(n);
    }
    return true;
  }
  void shut_write() { ::shutdown(fd_, SHUT_WR); }
  // The server answered (or closed): a client stops sending then, before a reset loses the answer.
  bool answered() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  // Everything until the server closes (or `seconds` pass).
  std::string read_all(double seconds = 30) {
    std::string out;
    const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The status of a raw HTTP response ("HTTP/1.1 413 …"), 0 if none.
int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}
json body_of(const std::string& response) {
  const size_t p = response.find("\r\n\r\n");
  try {
    return json::parse(response.substr(p + 4));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::unique_ptr<Server> make_server(const std::string& dir, const std::function<void(ServerOptions&)>& tune = {}) {
  ServerOptions o;
  o.model = load_model(dir);
  o.tokenizer = AutoTokenizer::from_pretrained(dir);
  o.port = 0;
  o.parallel = 2;
  if (tune) tune(o);
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

const json kGoodChat = {{"messages", user("What is 12 + 30?")}, {"temperature", 0}};

// The good request, checked.
void expect_good(int port) {
  Reply r = post(port, "/v1/chat/completions", kGoodChat);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], kChatAnswer);
}

// Small limits so that tests stay fast: 1 MiB bodies, 1 s to send a request.
void small_limits(ServerOptions& o) {
  o.max_body_bytes = 1 << 20;
  o.header_timeout_s = 1;
  o.body_timeout_s = 1;
  o.read_timeout_s = 1;
  o.keep_alive_timeout_s = 1;
}

class HostileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { chat_ = make_server(demo("chat-tiny"), small_limits).release(); }
  static void TearDownTestSuite() { delete chat_; }
  static int port() { return chat_->port(); }
  static Server* chat_;
};
Server* HostileTest::chat_ = nullptr;

// --- HTTP framing -----------------------------------------------------------------------

TEST_F(HostileTest, ChunkedBodyWithinTheLimitIsServed) {
  const std::string body = kGoodChat.dump();
  Raw c(port());
  ASSERT_TRUE(c.connected());
  std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (size_t i = 0; i < body.size(); i += 7) req += chunk(body.substr(i, 7));
  req += "0\r\n\r\n";
  ASSERT_TRUE(c.send(req));
  const std::string res = c.read_all();
  ASSERT_EQ(status_of(res), 200) << res;
  EXPECT_EQ(body_of(res)["choices"][0]["message"]["content"], kChatAnswer);
}

// Chunked bodies are counted as they arrive (cpp-httplib 0.11 does not bound them).
TEST_F(HostileTest, ChunkedBodyOverTheLimitIs413) {
  const uint64_t before = chat_->stats().oversized;
  Raw c(port());
  ASSERT_TRUE(c.connected());
  std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" + chunk("{\"prompt\": \"");
  for (int i = 0; i < 512; ++i) req += chunk(std::string(4096, 'a'));  // 2 MiB > 1 MiB
  c.send(req);
  const std::string res = c.read_all();
  EXPECT_EQ(status_of(res), 413) << res.substr(0, 300);
  EXPECT_NE(body_of(res)["error"]["message"].get<std::string>().find("1048576 bytes"), std::string::npos) << res;
  EXPECT_EQ(chat_->stats().oversized, before + 1);
  expect_good(port());
}

// 300 MB sent as fast as possible: the server stops reading near the limit and closes.
TEST_F(HostileTest, HugeChunkedBodyIsCutOff) {
  Raw c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string piece = chunk(std::string(1 << 20, 'a'));
  size_t sent = 0;
  const auto t0 = Clock::now();
  while (sent < (300u << 20) && c.send(piece)) sent += piece.size();
  EXPECT_LT(sent, 32u << 20) << "the server read far past its limit (socket buffers hold a few MB)";
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 20.0);
  expect_good(port());
}

// A request body needs a length (RFC 9112 §6.3: without Content-Length or chunked framing a
// request has no body): 411, without reading what follows.
TEST_F(HostileTest, BodyWithoutLengthIs411) {
  Raw c(port());
  ASSERT_TRUE(c.connected());
  c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\n\r\n{\"prompt\": \"" + std::string(2 << 20, 'a'));
  c.shut_write();
  const std::string res = c.read_all();
  EXPECT_EQ(status_of(res), 411) << res.substr(0, 300);
  expect_good(port());
}

TEST_F(HostileTest, BadContentLengthAndTransferEncoding) {
  auto send = [&](const std::string& headers) {
    Raw c(port());
    EXPECT_TRUE(c.connected());
    c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n{\"prompt\": \"hi\"}");
    return c.read_all(10);
  };
  // Declared far beyond the limit: refused before a byte of the body is read.
  const auto t0 = Clock::now();
  std::string res = send("Content-Length: 1000000000000000000\r\n");
  EXPECT_EQ(status_of(res), 413) << res;
  EXPECT_NE(body_of(res)["error"]["message"].get<std::string>().find("1000000000000000000"), std::string::npos) << res;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0);
  EXPECT_EQ(status_of(send("Content-Length: 99999999999999999999999\r\n")), 400);
  EXPECT_EQ(status_of(send("Content-Length: -1\r\n")), 400);
  EXPECT_EQ(status_of(send("Content-Length: abc\r\n")), 400);
  EXPECT_EQ(status_of(send("Content-Length: 16\r\nContent-Length: 16\r\n")), 400);
  EXPECT_EQ(status_of(send("Content-Length: 16\r\nTransfer-Encoding: chunked\r\n")), 400);
  EXPECT_EQ(status_of(send("Transfer-Encoding: gzip, chunked\r\n")), 501);
  EXPECT_EQ(status_of(send("Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 16\r\n")), 415);
  // Methods whose body httplib would read without bound.
  {
    Raw c(port());
    c.send("PRI /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(std::string(1000, 'a')));
    EXPECT_EQ(status_of(c.read_all(10)), 405);
  }
  // Unknown URLs and wrong methods are answered without reading the body.
  {
    Raw c(port());
    c.send("POST /v2/nothing HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(std::string(1000, 'a')));
    EXPECT_EQ(status_of(c.read_all(10)), 404);
  }
  {
    Raw c(port());
    c.send("PUT /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(std::string(1000, 'a')));
    EXPECT_EQ(status_of(c.read_all(10)), 405);
  }
  expect_good(port());
}

TEST_F(HostileTest, HeadersOverTheLimitAre431) {
  Raw c(port());
  ASSERT_TRUE(c.connected());
  std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 200; ++i) req += "X-Filler-" + std::to_string(i) + ": " + std::string(1000, 'a') + "\r\n";
  c.send(req + "\r\n");
  const std::string res = c.read_all(10);
  EXPECT_EQ(status_of(res), 431) << res.substr(0, 300);
  // A request line that never ends: the connection is closed, nothing is buffered past the limit.
  Raw d(port());
  ASSERT_TRUE(d.connected());
  size_t sent = 0;
  const std::string piece(1 << 16, 'a');
  d.send("GET /");
  while (sent < (64u << 20) && d.send(piece)) sent += piece.size();
  EXPECT_LT(sent, 32u << 20);
  EXPECT_EQ(health(port()), 200);
}

// --- slow clients -----------------------------------------------------------------------

// Headers sent a line at a time, never finishing: 408 once the header time is up, however
// often bytes arrive; meanwhile other requests are served.
TEST_F(HostileTest, SlowHeadersAreCutOff) {
  const uint64_t before = chat_->stats().timeouts;
  std::atomic<bool> good_ok{false};
  std::thread good([&] {
    Reply r = post(port(), "/v1/chat/completions", kGoodChat);
    good_ok = r.status == 200;
  });
  Raw c(port());
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  bool open = c.send("POST /v1/completions HTTP/1.1\r\n");
  for (int i = 0; i < 40 && open && !c.answered(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    open = c.send("X-Slow-" + std::to_string(i) + ": 1\r\n");
  }
  const std::string res = c.read_all(10);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_LT(seconds, 3.5) << "header_timeout_s is 1";
  EXPECT_EQ(status_of(res), 408) << res;
  EXPECT_EQ(chat_->stats().timeouts, before + 1);
  good.join();
  EXPECT_TRUE(good_ok);
}

TEST_F(HostileTest, SlowOrMissingBodyIsCutOff) {
  // Declares 1000 bytes, sends 10, then nothing.
  Raw c(port());
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"prompt\":");
  std::string res = c.read_all(10);
  EXPECT_EQ(status_of(res), 408) << res;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3.5);
  // A body trickling in a byte every 100 ms: 408 at body_timeout_s.
  Raw d(port());
  d.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  bool open = true;
  for (int i = 0; i < 40 && open && !d.answered(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    open = d.send(" ");
  }
  EXPECT_EQ(status_of(d.read_all(10)), 408);
  expect_good(port());
}

// A client that asks for a long stream and reads none of it: writes time out, generation
// stops after its step and the slot is freed for the next request.
TEST(ServerSlowReader, StreamToAClientThatDoesNotReadIsAbandoned) {
  auto srv = make_server(demo("chat-tiny"), [](ServerOptions& o) {
    o.parallel = 1;
    o.write_timeout_s = 1;
  });
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 2048;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(srv->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  json prompts = json::array({"Once upon a time", "The cat", "A dog", "In the morning"});
  const std::string body = json{{"prompt", prompts}, {"n", 16}, {"max_tokens", 480}, {"min_new_tokens", 480},
                                {"temperature", 0}, {"stream", true}}.dump();
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
  // Never read. The slot must come free well before 64 rows × 480 tokens would be done.
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (srv->stats().generations < 1 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(srv->stats().generations, 1u);
  EXPECT_EQ(srv->stats().cancelled, 1u) << "the stream should have been abandoned, not completed";
  expect_good(srv->port());
  ::close(fd);
}

// A client that gives up on a long non-streamed request: its generation stops after a step,
// and a request still waiting for the slot never starts.
TEST(ServerSlowReader, ClientThatLeavesStopsItsGeneration) {
  auto srv = make_server(demo("chat-tiny"), [](ServerOptions& o) { o.parallel = 1; });
  json prompts = json::array({"Once upon a time", "The cat", "A dog", "In the morning"});
  const json body{{"prompt", prompts}, {"n", 16}, {"max_tokens", 480}, {"min_new_tokens", 480}, {"temperature", 0}};
  auto impatient = [&](int ms) {
    httplib::Client cli("127.0.0.1", srv->port());
    cli.set_read_timeout(0, ms * 1000);
    EXPECT_FALSE(cli.Post("/v1/completions", body.dump(), "application/json"));
  };
  const auto t0 = Clock::now();
  std::thread first(impatient, 1000);  // leaves while generating
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread second(impatient, 300);  // leaves while waiting for the slot
  first.join();
  second.join();
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while ((srv->stats().cancelled < 1 || srv->stats().waiting > 0) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(srv->stats().cancelled, 1u);
  EXPECT_EQ(srv->stats().generations, 1u) << "the second request should not have generated";
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 6.0)
      << "64 rows × 480 tokens should have been cut short";
  expect_good(srv->port());
}

// A connection that never sends anything is closed; so is an idle kept-alive one.
TEST_F(HostileTest, IdleConnectionsAreClosed) {
  Raw c(port());
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  c.read_all(10);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3.5);
  Raw d(port());
  d.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto t1 = Clock::now();
  const std::string res = d.read_all(10);
  EXPECT_EQ(status_of(res), 200);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t1).count(), 3.5) << "keep_alive_timeout_s is 1";
}

TEST(ServerKeepAlive, RequestsPerConnectionAreBounded) {
  auto srv = make_server(demo("chat-tiny"), [](ServerOptions& o) { o.keep_alive_max = 3; });
  Raw c(srv->port());
  std::string reqs;
  for (int i = 0; i < 10; ++i) reqs += "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  c.send(reqs);
  const std::string res = c.read_all(10);
  size_t answers = 0;
  for (size_t p = 0; (p = res.find("HTTP/1.1 200", p)) != std::string::npos; ++p) ++answers;
  EXPECT_EQ(answers, 3u) << res;
}

// --- hostile JSON -----------------------------------------------------------------------

// ~100 KB of nesting inside tool_calls[].function.arguments (a string, so the body's own
// depth limit does not see it) used to overflow the stack when parsed.
TEST_F(HostileTest, DeepToolCallArgumentsAreRefused) {
  for (size_t depth : {size_t(100000), size_t(70)}) {
    json msgs = json::array({{{"role", "user"}, {"content", "hi"}},
                             {{"role", "assistant"},
                              {"content", nullptr},
                              {"tool_calls", json::array({{{"id", "c1"},
                                                           {"type", "function"},
                                                           {"function", {{"name", "f"},
                                                                         {"arguments", std::string(depth, '[') +
                                                                                           std::string(depth, ']')}}}}})}},
                             {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "1"}}});
    Reply r = post(port(), "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 2}});
    expect_error(r, 400, "nested more than", "messages[1].tool_calls[0].function.arguments");
  }
  // Arguments that are not JSON, or JSON that is not an object, stay strings as before.
  json msgs = json::array({{{"role", "user"}, {"content", "hi"}},
                           {{"role", "assistant"},
                            {"content", ""},
                            {"tool_calls", json::array({{{"id", "c1"},
                                                         {"type", "function"},
                                                         {"function", {{"name", "f"}, {"arguments", "{\"x\": 1e400}"}}}}})}},
                           {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "1"}}});
  Reply kept = post(port(), "/v1/chat/completions", json{{"messages", msgs}, {"max_tokens", 2}});
  EXPECT_EQ(kept.status, 200) << kept.raw;
  expect_good(port());
}

TEST_F(HostileTest, NumbersOutOfRangeName400TheField) {
  auto body = [](const std::string& fields) {
    return "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2, " + fields + "}";
  };
  Reply r = post(port(), "/v1/chat/completions", body("\"temperature\": 1e400"));
  expect_error(r, 400, "1e400", "temperature");
  expect_error(post(port(), "/v1/chat/completions", body("\"top_p\": -1e400")), 400, "-1e400", "top_p");
  expect_error(post(port(), "/v1/chat/completions",
                    std::string("{\"messages\": [{\"role\": \"user\", \"content\": 1e999}]}")),
               400, "1e999", "messages[0].content");
  expect_error(post(port(), "/v1/chat/completions", body("\"sequence_bias\": [[[1], 1e400]]")), 400, "1e400",
               "sequence_bias[0][1]");
  // Finite, but not a float32 or an int64.
  expect_error(post(port(), "/v1/chat/completions", body("\"temperature\": 1e300")), 400, "1e+300", "temperature");
  expect_error(post(port(), "/v1/chat/completions", body("\"max_tokens\": 18446744073709551615")), 400,
               "18446744073709551615", "max_tokens");
  expect_error(post(port(), "/v1/chat/completions", body("\"seed\": 18446744073709551615")), 400,
               "18446744073709551615", "seed");
  // Malformed JSON names where the parser stopped.
  expect_error(post(port(), "/v1/chat/completions", std::string("{\"messages\": [{\"role\": \"user\", \"content\": tru}]}")),
               400, "messages[0].content", "messages[0].content");
  Reply deep = post(port(), "/v1/completions", "{\"prompt\": \"x\", \"top_k\": " + std::string(100, '['));
  expect_error(deep, 400, "nested more than 64");
  EXPECT_EQ(deep.body["error"]["param"], "top_k") << deep.raw;
  expect_good(port());
}

// --- per-request limits -----------------------------------------------------------------

TEST_F(HostileTest, RequestLimitsAre400NamingFieldValueAndLimit) {
  const json msgs = user("hi");
  auto chat = [&](json extra) {
    json b{{"messages", msgs}, {"max_tokens", 2}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return post(port(), "/v1/chat/completions", b);
  };
  auto limit = [&](const Reply& r, const char* param, const std::string& value, const char* flag) {
    expect_error(r, 400, value, param);
    EXPECT_EQ(r.body["error"]["code"], "limit_exceeded") << r.raw;
    EXPECT_NE(r.raw.find(flag), std::string::npos) << r.raw;
  };
  limit(chat({{"num_beams", 20000}}), "num_beams", "20000", "--max-beams");
  limit(chat({{"num_beams", 16}, {"n", 8}}), "num_beams", "128", "--max-sequences");
  limit(chat({{"n", 17}}), "n", "17", "--max-n");
  limit(chat({{"max_tokens", 5000}}), "max_tokens", "5000", "--max-tokens");
  limit(chat({{"max_completion_tokens", 5000}, {"max_tokens", nullptr}}), "max_completion_tokens", "5000", "--max-tokens");
  limit(chat({{"stop", json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"})}}),
        "stop", "17", "--max-stop");
  limit(chat({{"stop", std::string(300, 's')}}), "stop", "300", "--max-stop-bytes");
  json bias = json::object();
  for (int i = 0; i < 5000; ++i) bias[std::to_string(i)] = 1;
  limit(chat({{"logit_bias", bias}}), "logit_bias", "5000", "--max-token-list");
  json bad_words = json::array();
  for (int i = 0; i < 5000; ++i) bad_words.push_back(json::array({i % 100 + 1}));
  limit(chat({{"bad_words_ids", bad_words}}), "bad_words_ids", "5000", "--max-token-list");
  json many = json::array();
  for (int i = 0; i < 1100; ++i) many.push_back({{"role", i % 2 ? "assistant" : "user"}, {"content", "x"}});
  limit(post(port(), "/v1/chat/completions", json{{"messages", many}}), "messages", "1100", "--max-messages");
  // Completions: prompt counts are checked before anything is tokenized.
  json prompts = json::array();
  for (int i = 0; i < 100; ++i) prompts.push_back("hello");
  limit(post(port(), "/v1/completions", json{{"prompt", prompts}}), "prompt", "100", "--max-sequences");
  limit(post(port(), "/v1/completions", json{{"prompt", "x"}, {"best_of", 1000000}}), "best_of", "1000000", "--max-n");
  expect_good(port());
}

TEST(ServerLimits, MemoryEstimateAndPromptTokensAreBounded) {
  auto srv = make_server(demo("chat-tiny"), [](ServerOptions& o) {
    o.limits.max_request_memory = 4 << 20;
    o.limits.max_prompt_tokens = 100;
  });
  // One row fits; 16 beams of the context do not.
  Reply ok = post(srv->port(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 4}});
  EXPECT_EQ(ok.status, 200) << ok.raw;
  Reply r = post(srv->port(), "/v1/completions",
                 json{{"prompt", "Once upon a time"}, {"num_beams", 16}, {"max_tokens", 400}, {"temperature", 0}});
  expect_error(r, 400, "--max-request-memory", "num_beams");
  EXPECT_EQ(r.body["error"]["code"], "limit_exceeded");
  std::string long_text;
  for (int i = 0; i < 150; ++i) long_text += " hello";
  expect_error(post(srv->port(), "/v1/completions", json{{"prompt", long_text}}), 400, "--max-prompt-tokens", "prompt");
  // Token-id prompts are counted before they are copied.
  json ids = json::array();
  for (int i = 0; i < 200; ++i) ids.push_back(5);
  expect_error(post(srv->port(), "/v1/completions", json{{"prompt", json::array({ids, ids})}}), 400, "400", "prompt");
  EXPECT_EQ(srv->stats().generations, 1u) << "refused requests must not generate";
}

TEST(ServerLimits, BadOptionsAreRefusedNamingTheFlag) {
  auto refused = [](const std::function<void(ServerOptions&)>& tune, const std::string& part) {
    ServerOptions o;
    tune(o);
    try {
      validate_options(o);
      ADD_FAILURE() << "accepted: " << part;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  refused([](ServerOptions& o) { o.limits.max_n = 0; }, "--max-n: 0");
  refused([](ServerOptions& o) { o.limits.max_tokens = -5; }, "--max-tokens: -5");
  refused([](ServerOptions& o) { o.limits.max_tokens = 4294967298; }, "--max-tokens: 4294967298");
  refused([](ServerOptions& o) { o.max_body_bytes = 0; }, "--max-body-bytes: 0");
  refused([](ServerOptions& o) { o.read_timeout_s = -1; }, "--read-timeout");
  refused([](ServerOptions& o) { o.keep_alive_max = 0; }, "--keep-alive-max: 0");
  refused([](ServerOptions& o) { o.threads = -3; }, "--threads: -3");
  validate_options(ServerOptions{});  // the defaults are valid
}

TEST(ServeCommand, LimitFlagsAreChecked) {
  // The user's own value in the message: -1, not 18446744073709551615.
  for (const auto& [flag, message] : {std::pair{"--max-n 0", "--max-n: 0"}, std::pair{"--max-body-bytes -1", "--max-body-bytes: -1"},
                                      std::pair{"--max-n 4294967298", "--max-n: 4294967298"},
                                      std::pair{"--read-timeout nan", "--read-timeout: nan"}}) {
    const std::string cmd = std::string(AUTOLM_CLI) + " serve " + demo("t5-numbers") + " --port 0 " + flag + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = ::pclose(p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << flag << ": " << status << " " << out;
    EXPECT_NE(out.find(message), std::string::npos) << out;
  }
}

// --- failures inside a request --------------------------------------------------------

// What generate() throws — out of memory, a bad input, a bug — is that request's error (with
// OpenAI's shape), its slot is released, and other requests are unaffected.
TEST(ServerFailures, ExceptionsInAGenerationAreThatRequestsError) {
  auto srv = make_server(demo("chat-tiny"), [](ServerOptions& o) {
    o.parallel = 1;
    o.before_generate = [](const Job& job) {
      switch (job.config.seed) {
        case 666: throw std::bad_alloc();
        case 667: throw Error(ErrorKind::kInvalidInput, "hostile input 667");
        case 668: throw std::runtime_error("bug 668");
        case 669: throw 669;
        default: break;
      }
    };
  });
  const int port = srv->port();
  auto req = [](int seed) { return json{{"messages", user("hi")}, {"max_tokens", 2}, {"seed", seed}}; };
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&] {
      Reply r = post(port, "/v1/chat/completions", kGoodChat);
      if (r.status == 200 && r.body["choices"][0]["message"]["content"] == kChatAnswer) ++good;
    });
  Reply oom = post(port, "/v1/chat/completions", req(666));
  expect_error(oom, 503, "out of memory");
  EXPECT_EQ(oom.body["error"]["code"], "out_of_memory");
  expect_error(post(port, "/v1/chat/completions", req(667)), 400, "hostile input 667");
  expect_error(post(port, "/v1/chat/completions", req(668)), 500, "bug 668");
  expect_error(post(port, "/v1/chat/completions", req(669)), 500, "Internal error");
  // Streaming: an error event, then [DONE].
  for (int seed : {666, 668, 669}) {
    httplib::Client cli("127.0.0.1", port);
    json b = req(seed);
    b["stream"] = true;
    auto res = cli.Post("/v1/chat/completions", b.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_NE(res->body.find("\"server_error\""), std::string::npos) << res->body;
    EXPECT_NE(res->body.find("data: [DONE]"), std::string::npos) << res->body;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, 3);
  // A stream's slot is released just after its last event went out: wait for it.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while ((srv->stats().generations < 10 || srv->stats().active != 0) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(srv->stats().active, 0);
  EXPECT_EQ(srv->stats().generations, 3u + 4u + 3u) << "every failed request released its slot";
  expect_good(port);
}

// --- all of it at once ------------------------------------------------------------------

// Every kind of bad request above, from several threads, while good requests run: the good
// ones get their answers, and the server serves afterwards.
TEST_F(HostileTest, BadRequestsDoNotDisturbConcurrentGoodOnes) {
  std::vector<std::function<void()>> bad = {
      [&] {
        Raw c(port());
        c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        const std::string piece = chunk(std::string(1 << 20, 'a'));
        for (int i = 0; i < 64 && c.send(piece); ++i) {
        }
      },
      [&] {
        Raw c(port());
        c.send("POST /v1/completions HTTP/1.1\r\n");
        for (int i = 0; i < 30 && c.send("X: 1\r\n"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      },
      [&] {
        json args = std::string(100000, '[') + std::string(100000, ']');
        json msgs = json::array({{{"role", "assistant"},
                                  {"tool_calls", json::array({{{"function", {{"name", "f"}, {"arguments", args}}}}})}},
                                 {{"role", "user"}, {"content", "hi"}}});
        EXPECT_EQ(post(port(), "/v1/chat/completions", json{{"messages", msgs}}).status, 400);
      },
      [&] { EXPECT_EQ(post(port(), "/v1/completions", std::string("{\"prompt\": \"x\", \"temperature\": 1e400}")).status, 400); },
      [&] { EXPECT_EQ(post(port(), "/v1/completions", json{{"prompt", "x"}, {"num_beams", 20000}}).status, 400); },
      [&] {
        Raw c(port());
        c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n");
        c.read_all(5);
      },
  };
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int round = 0; round < 2; ++round)
    for (auto& b : bad) threads.emplace_back(b);
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      Reply r = post(port(), "/v1/chat/completions", kGoodChat);
      if (r.status == 200 && r.body["choices"][0]["message"]["content"] == kChatAnswer) ++good;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, 4);
  EXPECT_EQ(chat_->stats().active, 0);
  expect_good(port());
  Reply t5 = post(port(), "/v1/completions", json{{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 4}});
  EXPECT_EQ(t5.status, 200);
}

}  // namespace
}  // namespace autolm::server
