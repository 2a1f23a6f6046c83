// autolm_server in production (issue #15): idle keep-alive and slow-header connections do not
// starve others, /health answers under load and while loading or draining, 429 past the
// queue, request deadlines, drain ends streams with [DONE], API keys, request ids, the access
// log, CORS, the connection limit, and /metrics counters that move with the work done.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <mutex>
#include <regex>
#include <thread>

#include "autolm/auto.h"
#include "autolm/tokenizer.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

std::string demo(const std::string& name) { return std::string(AUTOLM_SOURCE_DIR) + "/models/" + name; }
json user(const std::string& text) { return json::array({{{"role", "user"}, {"content", text}}}); }
const json kLong = {{"prompt", "Once upon a time"}, {"temperature", 0}, {"max_tokens", 400}, {"min_new_tokens", 400}};

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Reply {
  int status = 0;
  json body;
  std::string raw;
  httplib::Headers headers;
};

Reply to_reply(const httplib::Result& res) {
  Reply r;
  if (!res) return r;
  r.status = res->status;
  r.raw = res->body;
  r.headers = res->headers;
  try {
    r.body = json::parse(res->body);
  } catch (const std::exception&) {
  }
  return r;
}

Reply get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(30, 0);
  return to_reply(cli.Get(path.c_str(), headers));
}

Reply post(int port, const std::string& path, const json& body, const httplib::Headers& headers = {}) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  return to_reply(cli.Post(path.c_str(), headers, body.dump(), "application/json"));
}

// A streamed request's raw text (all events), read until the server ends it.
std::string stream(int port, json body, std::atomic<int>* events = nullptr) {
  body["stream"] = true;
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string raw;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    raw.append(data, n);
    if (events) ++*events;
    return true;
  };
  cli.send(req);
  return raw;
}

// A raw TCP connection.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  bool connected() const { return connected_; }
  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }
  // What arrives until `end` is seen, the server closes, or `seconds` pass.
  std::string read_until(const std::string& end, double seconds = 10) {
    std::string out;
    const auto t0 = Clock::now();
    while (since(t0) < seconds && out.find(end) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buf[4096];
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

ServerOptions options_for(const std::string& dir) {
  ServerOptions o;
  o.model = load_model(dir);
  o.tokenizer = AutoTokenizer::from_pretrained(dir);
  o.port = 0;
  return o;
}

std::unique_ptr<Server> serve(ServerOptions o) {
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

void wait_for(const std::function<bool()>& cond, double seconds = 30) {
  const auto t0 = Clock::now();
  while (!cond() && since(t0) < seconds) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// The value of a metric line `name{labels} value` in /metrics text (-1 when absent).
double metric(const std::string& text, const std::string& name) {
  const size_t p = text.find("\n" + name + "{");
  if (p == std::string::npos) return -1;
  const size_t sp = text.find("} ", p);
  return std::stod(text.substr(sp + 2, text.find('\n', sp) - sp - 2));
}

// 1,000 idle keep-alive connections and 100 clients sending their headers slowly (the
// numbers lowered only when the file-descriptor limit cannot hold them): a new /health and a
// generation still answer. (With a thread per connection, a few idle sockets blocked everyone.)
TEST(ServerProduction, IdleAndSlowConnectionsDoNotStarveOthers) {
  rlimit nofile{};
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &nofile);
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const int room = int(std::min<rlim_t>(nofile.rlim_cur, 100000)) - 200;  // 2 fds per loopback connection
  const int idle_n = std::clamp(room * 10 / 22, 0, 1000), slow_n = std::clamp(room / 22, 0, 100);
  ServerOptions o = options_for(demo("chat-tiny"));
  o.keep_alive_timeout_s = 60;
  o.header_timeout_s = 60;
  o.read_timeout_s = 60;
  auto srv = serve(std::move(o));
  std::vector<std::unique_ptr<Raw>> idle, slow;
  for (int i = 0; i < idle_n; ++i) {
    auto c = std::make_unique<Raw>(srv->port());
    ASSERT_TRUE(c->connected()) << i;
    ASSERT_TRUE(c->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
    ASSERT_NE(c->read_until("{\"status\":\"ok\"}").find("200 OK"), std::string::npos) << i;
    idle.push_back(std::move(c));  // kept alive, idle
  }
  for (int i = 0; i < slow_n; ++i) {
    auto c = std::make_unique<Raw>(srv->port());
    ASSERT_TRUE(c->connected());
    c->send("POST /v1/completions HTTP/1.1\r\nHost: x\r\n");  // and nothing more
    slow.push_back(std::move(c));
  }
  wait_for([&] { return srv->stats().connections >= idle_n + slow_n; }, 10);
  EXPECT_GE(srv->stats().connections, idle_n + slow_n);
  const auto t0 = Clock::now();
  Reply h = get(srv->port(), "/health");
  const double health_s = since(t0);
  EXPECT_EQ(h.status, 200);
  Reply r = post(srv->port(), "/v1/chat/completions", json{{"messages", user("What is 12 + 30?")}, {"temperature", 0}});
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["choices"][0]["message"]["content"], "12 + 30 = 42.");
  std::cerr << "/health with " << idle_n << " idle and " << slow_n << " slow connections: " << health_s * 1e3 << " ms\n";
}

// /health and /metrics are answered on the I/O threads, never behind generation.
TEST(ServerProduction, HealthAnswersWhileGenerationsQueue) {
  ServerOptions o = options_for(demo("chat-tiny"));
  o.parallel = 1;
  auto srv = serve(std::move(o));
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back([&] { stream(srv->port(), kLong); });
  wait_for([&] { return srv->stats().active == 1 && srv->stats().waiting >= 2; });
  EXPECT_GE(srv->stats().waiting, 2);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(get(srv->port(), "/health").status, 200);
    Reply m = get(srv->port(), "/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_EQ(metric(m.raw, "vllm:num_requests_running"), 1) << m.raw;
  }
  EXPECT_GE(srv->stats().waiting, 1) << "the model is too fast for this test";
  srv->stop();  // ends the streams
  for (auto& t : clients) t.join();
}

// Bound before the model loads: /health 503 "loading", model routes 503; 200 after load().
TEST(ServerProduction, LoadingStateUntilTheModelIsIn) {
  ServerOptions o;
  o.port = 0;
  o.model_name = "later";
  auto srv = serve(std::move(o));
  EXPECT_FALSE(srv->ready());
  Reply h = get(srv->port(), "/health");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.body, json({{"status", "loading"}}));
  Reply c = post(srv->port(), "/v1/completions", json{{"prompt", "hi"}});
  EXPECT_EQ(c.status, 503);
  EXPECT_EQ(c.body["error"]["code"], "model_loading") << c.raw;
  EXPECT_EQ(get(srv->port(), "/metrics").status, 200);
  srv->load(load_model(demo("t5-numbers")), AutoTokenizer::from_pretrained(demo("t5-numbers")));
  EXPECT_TRUE(srv->ready());
  EXPECT_EQ(get(srv->port(), "/health").status, 200);
  Reply r = post(srv->port(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}});
  EXPECT_EQ(r.body["choices"][0]["text"], "four thousand twenty-one") << r.raw;
  EXPECT_EQ(r.body["model"], "later");
  EXPECT_THROW(srv->load(load_model(demo("t5-numbers")), AutoTokenizer::from_pretrained(demo("t5-numbers"))), Error);
}

// Past --parallel running and --max-queue waiting: 429 with Retry-After, in OpenAI's shape.
TEST(ServerProduction, FullQueueIs429WithRetryAfter) {
  ServerOptions o = options_for(demo("chat-tiny"));
  o.parallel = 1;
  o.max_queue = 1;
  auto srv = serve(std::move(o));
  std::thread running([&] { stream(srv->port(), kLong); });
  wait_for([&] { return srv->stats().active == 1; });
  std::thread waiting([&] { stream(srv->port(), kLong); });
  wait_for([&] { return srv->stats().waiting == 1; });
  Reply r = post(srv->port(), "/v1/completions", kLong);
  EXPECT_EQ(r.status, 429) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "rate_limit_exceeded") << r.raw;
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("--max-queue"), std::string::npos);
  EXPECT_TRUE(r.body["error"].contains("param") && r.body["error"].contains("type"));
  auto retry = r.headers.find("Retry-After");
  ASSERT_NE(retry, r.headers.end());
  EXPECT_EQ(retry->second, "1");
  EXPECT_EQ(srv->stats().rejected, 1u);
  EXPECT_EQ(metric(srv->metrics(), "vllm:num_requests_waiting"), 1);
  srv->stop();
  running.join();
  waiting.join();
}

// --request-timeout: a generation still running at its deadline is stopped (non-streamed: 503
// request_timeout; streamed: ends with finish_reason "length" and [DONE]).
TEST(ServerProduction, RequestDeadlineStopsTheGeneration) {
  ServerOptions o = options_for(demo("chat-tiny"));
  o.request_timeout_s = 0.3;
  auto srv = serve(std::move(o));
  json body = kLong;
  // As long as the context allows (512 positions; more is refused) and 16 rows per step, so it
  // is still running when the deadline / drain comes on any machine.
  body["max_tokens"] = body["min_new_tokens"] = 500;
  body["n"] = 16;
  const auto t0 = Clock::now();
  Reply r = post(srv->port(), "/v1/completions", body);
  EXPECT_LT(since(t0), 20.0);
  EXPECT_EQ(r.status, 503) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "request_timeout") << r.raw;
  const std::string s = stream(srv->port(), body);
  EXPECT_NE(s.find("\"finish_reason\":\"length\""), std::string::npos);
  EXPECT_NE(s.find("data: [DONE]\n\n"), std::string::npos) << s.substr(s.size() > 300 ? s.size() - 300 : 0);
  EXPECT_EQ(srv->stats().deadlines, 2u);
}

// drain(): new connections refused, /health 503 "draining" on open ones, running streams
// finish or, at the drain timeout, end with a final chunk and [DONE].
TEST(ServerProduction, DrainEndsRunningStreamsWithDone) {
  ServerOptions o = options_for(demo("chat-tiny"));
  o.parallel = 2;
  auto srv = serve(std::move(o));
  const int port = srv->port();
  json body = kLong;
  // As long as the context allows (512 positions; more is refused) and 16 rows per step, so it
  // is still running when the deadline / drain comes on any machine.
  body["max_tokens"] = body["min_new_tokens"] = 500;
  body["n"] = 16;
  std::atomic<int> events{0};
  std::string raw;
  std::thread client([&] { raw = stream(port, body, &events); });
  wait_for([&] { return events.load() >= 3; });
  Raw kept(port);  // an open (kept-alive) connection, to ask /health while draining
  ASSERT_TRUE(kept.connected());
  kept.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_NE(kept.read_until("}").find("200 OK"), std::string::npos);
  std::thread drainer([&] { srv->drain(1.5); });
  wait_for([&] { return get(port, "/health").status == 0; }, 5);  // not accepting any more
  EXPECT_EQ(get(port, "/health").status, 0);
  kept.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string h = kept.read_until("}");
  EXPECT_NE(h.find("HTTP/1.1 503"), std::string::npos) << h;
  EXPECT_NE(h.find("{\"status\":\"draining\"}"), std::string::npos) << h;
  drainer.join();
  client.join();
  EXPECT_NE(raw.find("\"finish_reason\":\"length\""), std::string::npos);
  ASSERT_GE(raw.size(), 14u);
  EXPECT_EQ(raw.substr(raw.size() - 14), "data: [DONE]\n\n");
  EXPECT_FALSE(srv->running());
}

// --api-key: /v1/* needs "Authorization: Bearer KEY" (401 in OpenAI's shape); /health does not.
TEST(ServerProduction, ApiKeyIsRequiredOnV1) {
  ServerOptions o = options_for(demo("t5-numbers"));
  o.api_key = "sk-test-123";
  auto srv = serve(std::move(o));
  for (const httplib::Headers& h : {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer sk-test-124"}},
                                    httplib::Headers{{"Authorization", "sk-test-123"}}}) {
    Reply r = get(srv->port(), "/v1/models", h);
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "invalid_api_key") << r.raw;
    EXPECT_EQ(r.body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(post(srv->port(), "/v1/completions", json{{"prompt", "spell: 1"}}, h).status, 401);
  }
  EXPECT_EQ(get(srv->port(), "/health").status, 200);
  EXPECT_EQ(get(srv->port(), "/v1/models", {{"Authorization", "Bearer sk-test-123"}}).status, 200);
  Reply r = post(srv->port(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}},
                 {{"Authorization", "Bearer sk-test-123"}});
  EXPECT_EQ(r.body["choices"][0]["text"], "four thousand twenty-one") << r.raw;
}

// X-Request-Id is echoed (or made up) on every response, and named in the access log line.
TEST(ServerProduction, RequestIdsAndAccessLog) {
  ServerOptions o = options_for(demo("t5-numbers"));
  auto mu = std::make_shared<std::mutex>();
  auto lines = std::make_shared<std::vector<std::string>>();
  o.access_log = [mu, lines](const std::string& line) {
    std::lock_guard lock(*mu);
    lines->push_back(line);
  };
  auto srv = serve(std::move(o));
  Reply r = post(srv->port(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}},
                 {{"X-Request-Id", "req-abc.123"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.find("X-Request-Id")->second, "req-abc.123");
  Reply made = get(srv->port(), "/nothing", {{"X-Request-Id", "bad id\twith spaces"}});
  EXPECT_EQ(made.status, 404);
  const std::string id = made.headers.find("X-Request-Id")->second;
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
  wait_for([&] {
    std::lock_guard lock(*mu);
    return lines->size() >= 2;
  }, 5);
  std::lock_guard lock(*mu);
  ASSERT_EQ(lines->size(), 2u);
  // A request's line is written when its reply has gone out, so the two may come in either order.
  const bool post_first = (*lines)[0].find("POST") != std::string::npos;
  const std::string& post_line = (*lines)[post_first ? 0 : 1];
  const std::string& get_line = (*lines)[post_first ? 1 : 0];
  EXPECT_TRUE(std::regex_search(post_line, std::regex("127\\.0\\.0\\.1:[0-9]+ \"POST /v1/completions\" 200 [0-9]+ [0-9.]+ "
                                                      "request_id=req-abc\\.123$"))) << post_line;
  EXPECT_NE(get_line.find("\"GET /nothing\" 404"), std::string::npos) << get_line;
  EXPECT_NE(get_line.find("request_id=" + id), std::string::npos) << get_line;
}

// --cors-origin: preflight answered, Access-Control-Allow-Origin on responses; none without it.
TEST(ServerProduction, CorsIsOptIn) {
  ServerOptions o = options_for(demo("t5-numbers"));
  o.cors_origin = "https://app.example";
  auto srv = serve(std::move(o));
  httplib::Client cli("127.0.0.1", srv->port());
  auto pre = cli.Options("/v1/chat/completions", {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(pre->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_EQ(get(srv->port(), "/health", {{"Origin", "https://app.example"}}).headers.count("Access-Control-Allow-Origin"), 1u);
  EXPECT_EQ(get(srv->port(), "/health", {{"Origin", "https://evil.example"}}).headers.count("Access-Control-Allow-Origin"), 0u);
  auto plain = serve(options_for(demo("t5-numbers")));
  EXPECT_EQ(get(plain->port(), "/health", {{"Origin", "https://app.example"}}).headers.count("Access-Control-Allow-Origin"), 0u);
}

// Past --max-connections, a new connection gets 503 and is closed; others go on.
TEST(ServerProduction, ConnectionLimitRefusesClearly) {
  ServerOptions o = options_for(demo("t5-numbers"));
  o.max_connections = 3;
  auto srv = serve(std::move(o));
  std::vector<std::unique_ptr<Raw>> open;
  for (int i = 0; i < 3; ++i) open.push_back(std::make_unique<Raw>(srv->port()));
  wait_for([&] { return srv->stats().connections == 3; }, 5);
  Raw extra(srv->port());
  const std::string res = extra.read_until("}");
  EXPECT_NE(res.find("HTTP/1.1 503"), std::string::npos) << res;
  EXPECT_NE(res.find("too_many_connections"), std::string::npos) << res;
  EXPECT_NE(res.find("Retry-After: 1"), std::string::npos) << res;
  open[0]->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(open[0]->read_until("}").find("200 OK"), std::string::npos);
}

// /metrics: vLLM's names; the counters move by exactly what the requests report in usage.
TEST(ServerProduction, MetricsCountersMove) {
  auto srv = serve(options_for(demo("t5-numbers")));
  const std::string before = get(srv->port(), "/metrics").raw;
  for (const char* name : {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prompt_tokens_total",
                           "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_count",
                           "vllm:e2e_request_latency_seconds_count", "vllm:kv_cache_usage_perc"})
    EXPECT_GE(metric(before, name), 0) << name << "\n" << before;
  EXPECT_NE(before.find("# TYPE vllm:time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(before.find("vllm:e2e_request_latency_seconds_bucket{model_name=\"t5-numbers\",le=\"+Inf\"}"), std::string::npos);
  Reply a = post(srv->port(), "/v1/completions", json{{"prompt", "spell: 4021"}, {"temperature", 0}});
  std::string s = stream(srv->port(), json{{"prompt", "spell: 958"}, {"temperature", 0}, {"stream_options", {{"include_usage", true}}}});
  const size_t u = s.rfind("\"usage\":{");
  ASSERT_NE(u, std::string::npos) << s;
  const json usage = json::parse(s.substr(u + 8, s.find('}', u) - u - 7));
  const std::string after = get(srv->port(), "/metrics").raw;
  EXPECT_EQ(metric(after, "vllm:prompt_tokens_total") - metric(before, "vllm:prompt_tokens_total"),
            a.body["usage"]["prompt_tokens"].get<double>() + usage["prompt_tokens"].get<double>());
  EXPECT_EQ(metric(after, "vllm:generation_tokens_total") - metric(before, "vllm:generation_tokens_total"),
            a.body["usage"]["completion_tokens"].get<double>() + usage["completion_tokens"].get<double>());
  EXPECT_EQ(metric(after, "vllm:time_to_first_token_seconds_count") - metric(before, "vllm:time_to_first_token_seconds_count"), 2);
  EXPECT_EQ(metric(after, "vllm:e2e_request_latency_seconds_count") - metric(before, "vllm:e2e_request_latency_seconds_count"), 2);
  EXPECT_EQ(metric(after, "vllm:num_requests_running"), 0);
}

// The queue: `workers` run, `max_queue` wait, the next is refused; stop() drops what waits.
TEST(Scheduler, BoundsTheQueueAndDropsOnStop) {
  Scheduler sched(1, 2);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> ran{0}, dropped{0};
  auto task = [&](uint64_t memory) {
    Scheduler::Task t;
    t.memory = memory;
    t.run = [&](const std::function<void()>& finished) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
      finished();
      ++ran;
    };
    t.drop = [&] { ++dropped; };
    return t;
  };
  EXPECT_EQ(sched.submit(task(100)), Scheduler::Admit::kQueued);
  wait_for([&] { return sched.running() == 1; }, 5);
  EXPECT_EQ(sched.running_memory(), 100u);
  EXPECT_EQ(sched.submit(task(1)), Scheduler::Admit::kQueued);
  EXPECT_EQ(sched.submit(task(1)), Scheduler::Admit::kQueued);
  EXPECT_EQ(sched.submit(task(1)), Scheduler::Admit::kFull);
  EXPECT_EQ(sched.waiting(), 2);
  EXPECT_FALSE(sched.wait_idle(0.05));
  std::thread stopper([&] { sched.stop(); });
  wait_for([&] { return dropped.load() == 2; }, 5);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(dropped.load(), 2);
  EXPECT_EQ(sched.submit(task(1)), Scheduler::Admit::kStopped);
  EXPECT_TRUE(sched.wait_idle(0));
  EXPECT_EQ(sched.running_memory(), 0u);
}

}  // namespace
}  // namespace autolm::server
