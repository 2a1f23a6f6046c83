// autolm_server: the routes (a table of method + path → handler), admission into the
// generation workers, OpenAI error shapes, SSE streaming, request ids, the access log, API
// keys, CORS, /health states and /metrics. HTTP itself is http.h; the queue is scheduler.h.
#include "server/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "autolm/error.h"
#include "server/batcher.h"
#include "server/endpoints.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/scheduler.h"

namespace autolm::server {

namespace {

using Clock = std::chrono::steady_clock;

std::string basename_of(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string name = std::filesystem::path(dir).filename().string();
  return name.empty() ? dir : name;
}

const char* status_type(int status) { return status >= 500 ? "server_error" : "invalid_request_error"; }

HttpResponse json_response(int status, const ojson& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

HttpResponse error_response(int status, const std::string& message, const std::string& param = "",
                            const std::string& code = "", const std::string& type = "") {
  return json_response(status, error_body(message, type.empty() ? status_type(status) : type, param, code));
}

// A client's X-Request-Id is kept when it is a sane token; otherwise one is made up.
std::string request_id_of(const HttpRequest& req) {
  std::string id = req.header("X-Request-Id");
  const bool sane = !id.empty() && id.size() <= 128 &&
                    std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum((unsigned char)c) || (c != 0 && std::strchr("-_.:", c)); });
  if (sane) return id;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)rng(), (unsigned long long)rng());
  return buf;
}

// Compares without an early exit, so that the time taken does not tell how much of a key matched.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i)
    diff |= unsigned(i < a.size() ? a[i] : 0) ^ unsigned(i < b.size() ? b[i] : 0);
  return diff == 0;
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

}  // namespace

// --draft-model: the assistant for one-sequence greedy / sampling requests, with its own
// generation config (transformers reads the assistant settings from the assistant's).
static void set_draft(Engine& e, std::shared_ptr<const Model> draft) {
  e.draft = std::move(draft);
  if (e.draft) e.draft_config = GenerationConfig::for_model(*e.draft);
}

// The model requests generate with: decoder-only models behind the step batcher (continuous
// batching, batcher.h) unless ServerOptions::batching is off; seq2seq models as they are (their
// requests run alone, docs/SERVER.md).
static std::shared_ptr<const Model> serving_model(std::shared_ptr<const Model> model, const ServerOptions& o) {
  if (!o.batching || model->family() != ModelFamily::kCausal) return model;
  return std::make_shared<BatchingModel>(std::move(model), o.prefill_chunk);
}

// --kv-budget, or what --max-batch requests of --max-request-memory may use.
static uint64_t memory_budget(const ServerOptions& o) {
  if (o.kv_budget > 0) return o.kv_budget;
  const double b = double(o.parallel) * double(o.limits.max_request_memory);
  return b >= 1.8e19 ? 0 : uint64_t(b);
}

struct Server::Impl {
  // A route: `path` exact, or a prefix when it ends with '/'. `handle` runs on an I/O thread
  // and must not block; generation goes to the scheduler.
  struct Route {
    std::string method, path;
    bool body = false;        // reads a request body
    bool needs_model = true;  // 503 while loading
    std::function<void(const std::shared_ptr<Exchange>&)> handle;
  };

  ServerOptions opts;
  mutable std::mutex engine_mu;
  std::shared_ptr<const Engine> engine_;  // null while loading
  std::atomic<bool> ready{false}, draining{false}, stopping{false};
  std::vector<Route> route_table;
  Metrics metrics;
  std::atomic<uint64_t> requests{0}, generations{0}, cancelled{0}, timeouts{0}, oversized{0}, rejected{0}, deadlines{0};
  Scheduler scheduler;
  HttpServer http;
  int port = -1;
  std::mutex stop_mu;
  bool stopped = false;

  explicit Impl(ServerOptions o);

  std::shared_ptr<const Engine> engine() const {
    std::lock_guard lock(engine_mu);
    return engine_;
  }
  HttpOptions http_options() const;
  HttpHandlers http_handlers();
  void routes();
  const Route* find(const std::string& method, const std::string& path, std::string* allow) const;
  void handle(const std::shared_ptr<Exchange>& ex);
  void generate_route(const std::shared_ptr<Exchange>& ex, bool chat);
  void run(const std::shared_ptr<const Engine>& engine, const std::shared_ptr<Job>& job,
           const std::shared_ptr<Exchange>& ex, Clock::time_point arrived, const std::function<void()>& finished);
  std::string metrics_text() const {
    Metrics::Now now;
    now.running = scheduler.running();
    now.waiting = scheduler.waiting();
    now.connections = http.connections();
    // KV usage: the running requests' estimated memory against --kv-budget (default: what
    // --max-batch requests of --max-request-memory may use).
    const double budget = double(scheduler.memory_budget());
    now.kv_usage = budget > 0 ? std::min(1.0, double(scheduler.running_memory()) / budget) : 0;
    const auto e = engine();
    const StepBatcher::Stats bs = batcher_stats(e.get());
    now.batched_steps = bs.steps;
    now.batched_rows = bs.stepped_rows;
    now.prefill_chunks = bs.prefill_chunks;
    return metrics.text(e ? e->name : opts.model_name, now);
  }
  // The step batcher's counters (zeros without continuous batching or before the model is loaded).
  static StepBatcher::Stats batcher_stats(const Engine* e) {
    if (e)
      if (const auto* b = dynamic_cast<const BatchingModel*>(e->model.get())) return b->stats();
    return {};
  }
  ojson model_object(const Engine& e) const { return model_card(e); }
};

Server::Impl::Impl(ServerOptions o)
    : opts(std::move(o)), scheduler(opts.parallel, opts.max_queue, memory_budget(opts)), http(http_options(), http_handlers()) {
  if (opts.model) {
    auto e = std::make_shared<Engine>(serving_model(opts.model, opts), opts.tokenizer,
                                      opts.model_name.empty() ? basename_of(opts.model->config().dir) : opts.model_name);
    e->limits = opts.limits;
    set_draft(*e, opts.draft_model);
    engine_ = std::move(e);
    ready = true;
  }
  routes();
}

HttpOptions Server::Impl::http_options() const {
  HttpOptions h;
  h.host = opts.host;
  h.port = opts.port;
  h.io_threads = opts.threads > 0 ? opts.threads : 2;
  h.backlog = opts.backlog;
  h.max_connections = opts.max_connections;
  h.max_body_bytes = opts.max_body_bytes;
  h.max_header_bytes = opts.max_header_bytes;
  h.max_body_memory = opts.max_body_memory;
  h.header_timeout_s = opts.header_timeout_s;
  h.body_timeout_s = opts.body_timeout_s;
  h.read_timeout_s = opts.read_timeout_s;
  h.write_timeout_s = opts.write_timeout_s;
  h.keep_alive_timeout_s = opts.keep_alive_timeout_s;
  h.keep_alive_max = opts.keep_alive_max;
  return h;
}

HttpHandlers Server::Impl::http_handlers() {
  HttpHandlers h;
  h.prepare = [this](HttpRequest& req) {
    ++requests;
    ++metrics.http_requests;
    req.request_id = request_id_of(req);
    req.response_headers.emplace_back("X-Request-Id", req.request_id);
    if (!opts.cors_origin.empty()) {
      const std::string origin = req.header("Origin");
      if (opts.cors_origin == "*") {
        req.response_headers.emplace_back("Access-Control-Allow-Origin", "*");
      } else if (!origin.empty() && ("," + opts.cors_origin + ",").find("," + origin + ",") != std::string::npos) {
        req.response_headers.emplace_back("Access-Control-Allow-Origin", origin);
        req.response_headers.emplace_back("Vary", "Origin");
      }
    }
  };
  h.takes_body = [this](const HttpRequest& req) {
    const Route* r = find(req.method, req.path, nullptr);
    return r && r->body;
  };
  h.handle = [this](std::shared_ptr<Exchange> ex) { handle(ex); };
  h.error = [this](int status, const std::string& message, const std::string& code) {
    if (status == 408) ++timeouts;
    if (status == 413 || status == 431) ++oversized;
    return error_response(status, message, "", code);
  };
  h.done = [this](const HttpRequest& req, int status, uint64_t bytes, double seconds) {
    if (!opts.access_log) return;
    char tail[96];
    std::snprintf(tail, sizeof tail, "\" %d %llu %.3f", status, (unsigned long long)bytes, seconds);
    opts.access_log(utc_now() + " " + (req.remote.empty() ? "-" : req.remote) + " \"" +
                    (req.method.empty() ? "-" : req.method + " " + req.target) + tail +
                    " request_id=" + (req.request_id.empty() ? "-" : req.request_id));
  };
  return h;
}

const Server::Impl::Route* Server::Impl::find(const std::string& method, const std::string& path, std::string* allow) const {
  const std::string m = method == "HEAD" ? "GET" : method;
  const Route* hit = nullptr;
  for (const Route& r : route_table) {
    const bool match = r.path.back() == '/' ? path.size() > r.path.size() && path.rfind(r.path, 0) == 0 : path == r.path;
    if (!match) continue;
    if (r.method == m) hit = &r;
    if (allow && allow->find(r.method) == std::string::npos) *allow += (allow->empty() ? "" : ", ") + r.method;
  }
  return hit;
}

void Server::Impl::handle(const std::shared_ptr<Exchange>& ex) {
  HttpRequest& req = ex->request();
  auto respond = [&](HttpResponse r) {
    if (draining) r.close = true;  // while draining, connections close after their answer
    ex->respond(std::move(r));
  };
  if (req.method == "OPTIONS" && !opts.cors_origin.empty()) {  // CORS preflight
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    r.headers = {{"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
                 {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id"},
                 {"Access-Control-Max-Age", "600"}};
    return respond(std::move(r));
  }
  std::string allow;
  const Route* route = find(req.method, req.path, &allow);
  if (!route) {
    if (!allow.empty()) {
      HttpResponse r = error_response(405, "Method " + req.method + " is not allowed for " + req.path +
                                               " (allowed: " + allow + ").", "", "method_not_allowed");
      r.headers.emplace_back("Allow", allow);
      return respond(std::move(r));
    }
    std::string known;
    for (const Route& r : route_table) known += (known.empty() ? "" : ", ") + r.method + " " + r.path + (r.path.back() == '/' ? "{id}" : "");
    return respond(error_response(404, "Unknown request URL: " + req.method + " " + req.path + ". Known: " + known + ".", "",
                                  "unknown_url"));
  }
  if (!opts.api_key.empty() && req.path.rfind("/v1/", 0) == 0) {
    const std::string auth = req.header("Authorization");
    if (!same_secret(auth, "Bearer " + opts.api_key)) {
      HttpResponse r = error_response(401, auth.empty() ? "You didn't provide an API key. Send it as 'Authorization: Bearer KEY'."
                                                        : "Incorrect API key provided.",
                                      "", "invalid_api_key", "invalid_request_error");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
  }
  if (route->needs_model && !ready)
    return respond(error_response(503, "The model is still loading; retry shortly.", "", "model_loading"));
  try {
    route->handle(ex);
  } catch (const ApiError& e) {
    respond(error_response(e.status, e.what(), e.param, e.code, e.type));
  } catch (const Error& e) {
    respond(error_response(e.kind() == ErrorKind::kInternal ? 500 : 400, e.what()));
  } catch (const std::bad_alloc&) {
    respond(error_response(503, "The server ran out of memory for this request; retry later or ask for less (max_tokens, n, "
                                "num_beams, a shorter prompt).", "", "out_of_memory", "server_error"));
  } catch (const std::exception& e) {
    respond(error_response(500, std::string("Internal error: ") + e.what()));
  }
}

void Server::Impl::routes() {
  auto answer = [this](const std::shared_ptr<Exchange>& ex, HttpResponse r) {
    if (draining) r.close = true;
    ex->respond(std::move(r));
  };
  // A POST route answered on the I/O thread from its body, for quick work that needs no
  // worker (e.g. tokenizing): `fn` returns the response object or throws ApiError / Error.
  auto json_post = [this, answer](std::string path, std::function<ojson(const Engine&, const std::string&)> fn) {
    return Route{"POST", std::move(path), true, true, [this, answer, fn](const std::shared_ptr<Exchange>& ex) {
                   answer(ex, json_response(200, fn(*engine(), ex->request().body)));
                 }};
  };
  route_table = {
      {"GET", "/health", false, false,
       [this, answer](const std::shared_ptr<Exchange>& ex) {
         // 503 while loading and while draining, so that load balancers send traffic elsewhere.
         const char* status = !ready ? "loading" : draining ? "draining" : "ok";
         answer(ex, json_response(std::string(status) == "ok" ? 200 : 503, {{"status", status}}));
       }},
      {"GET", "/metrics", false, false,
       [this, answer](const std::shared_ptr<Exchange>& ex) {
         HttpResponse r;
         r.content_type = "text/plain; version=0.0.4; charset=utf-8";
         r.body = metrics_text();
         answer(ex, std::move(r));
       }},
      {"GET", "/v1/models", false, true,
       [this, answer](const std::shared_ptr<Exchange>& ex) {
         answer(ex, json_response(200, {{"object", "list"}, {"data", ojson::array({model_object(*engine())})}}));
       }},
      {"GET", "/v1/models/", false, true,
       [this, answer](const std::shared_ptr<Exchange>& ex) {
         const auto e = engine();
         const std::string id = ex->request().path.substr(std::string("/v1/models/").size());
         if (id == e->name) return answer(ex, json_response(200, model_object(*e)));
         answer(ex, error_response(404, "The model '" + id + "' does not exist.", "model", "model_not_found"));
       }},
      {"POST", "/v1/completions", true, true, [this](const std::shared_ptr<Exchange>& ex) { generate_route(ex, false); }},
      {"POST", "/v1/chat/completions", true, true, [this](const std::shared_ptr<Exchange>& ex) { generate_route(ex, true); }},
      json_post("/tokenize", tokenize),
      json_post("/detokenize", detokenize),
  };
}

// Parses and validates on the I/O thread (fast, and errors come back without waiting), then
// queues the generation for a worker; 429 when the queue is full.
void Server::Impl::generate_route(const std::shared_ptr<Exchange>& ex, bool chat) {
  const auto arrived = Clock::now();
  if (draining) return ex->respond([] {
    HttpResponse r = error_response(503, "The server is shutting down.", "", "", "server_error");
    r.close = true;
    return r;
  }());
  const auto e = engine();
  std::string body = std::move(ex->request().body);
  auto job = std::make_shared<Job>(chat ? parse_chat_request(*e, body) : parse_completion_request(*e, body));
  std::string().swap(body);
  Scheduler::Task task;
  task.memory = job->memory_estimate;
  task.run = [this, e, job, ex, arrived](const std::function<void()>& finished) { run(e, job, ex, arrived, finished); };
  task.drop = [ex] {
    HttpResponse r = error_response(503, "The server is shutting down.", "", "", "server_error");
    r.close = true;
    ex->respond(std::move(r));
  };
  switch (scheduler.submit(std::move(task))) {
    case Scheduler::Admit::kQueued:
      return;
    case Scheduler::Admit::kFull: {
      ++rejected;
      ++metrics.rejected_queue_full;
      HttpResponse r = error_response(429, "The server is busy: " + std::to_string(opts.parallel) + " requests are generating and " +
                                               std::to_string(opts.max_queue) +
                                               " are waiting (autolm serve --max-batch, --max-queue). Retry later.",
                                      "", "rate_limit_exceeded", "requests");
      r.headers.emplace_back("Retry-After", "1");
      return ex->respond(std::move(r));
    }
    case Scheduler::Admit::kStopped:
      return ex->respond(error_response(503, "The server is shutting down.", "", "", "server_error"));
    case Scheduler::Admit::kTooBig:
      return ex->respond(error_response(
          400,
          "This request would need about " + std::to_string(job->memory_estimate >> 20) +
              " MiB of KV cache and scratch, more than this server's budget for all running requests together (" +
              std::to_string(scheduler.memory_budget() >> 20) +
              " MiB, autolm serve --kv-budget). Lower max_tokens, n or num_beams, or shorten the prompt.",
          "max_tokens", "limit_exceeded"));
  }
}

// On a worker: one request's generation, streamed or not. Nothing thrown leaves this function.
void Server::Impl::run(const std::shared_ptr<const Engine>& engine, const std::shared_ptr<Job>& job,
                       const std::shared_ptr<Exchange>& ex, Clock::time_point arrived,
                       const std::function<void()>& finished) {
  if (ex->client_gone() || stopping) {  // left while queued, or the server stops: never starts
    finished();
    return ex->respond(stopping ? error_response(503, "The server is shutting down.", "", "", "server_error")
                                : error_response(499, "The client closed the request.", "", "", "server_error"));
  }
  enum class Why { kNone, kGone, kStopping, kDeadline } why = Why::kNone;
  const auto deadline = arrived + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts.request_timeout_s));
  bool first = true;
  RunControl control;
  // After every step: the first one is the time to first token; then stop when the client left
  // (streamed or not), the server stops, or the request's deadline passed.
  control.keep_going = [&] {
    if (first) {
      first = false;
      metrics.ttft.observe(std::chrono::duration<double>(Clock::now() - arrived).count());
    }
    if (ex->client_gone()) why = Why::kGone;
    else if (stopping) why = Why::kStopping;
    else if (Clock::now() > deadline) why = Why::kDeadline;
    return why == Why::kNone;
  };
  if (opts.before_generate) control.before_generate = [this, job] { opts.before_generate(*job); };
  auto account = [&] {
    ++generations;
    if (why == Why::kGone || (control.cancelled && why == Why::kNone)) ++cancelled;  // (a write failed: gone too)
    if (why == Why::kDeadline) ++deadlines;
    metrics.prompt_tokens += uint64_t(job->prompt_tokens);
    metrics.generation_tokens += uint64_t(std::max<int64_t>(control.completion_tokens, 0));
    if (first) metrics.ttft.observe(std::chrono::duration<double>(Clock::now() - arrived).count());
    metrics.e2e.observe(std::chrono::duration<double>(Clock::now() - arrived).count());
  };
  auto close_if_draining = [&](HttpResponse r) {
    if (draining) r.close = true;
    return r;
  };
  if (!job->stream) {
    HttpResponse r;
    try {
      ojson out = run_job(*engine, *job, control);
      if (why == Why::kDeadline)
        r = error_response(503, "The request ran past the server's time limit (autolm serve --request-timeout " +
                                    std::to_string(int64_t(opts.request_timeout_s)) + " s).", "", "request_timeout", "server_error");
      else if (control.cancelled)
        r = error_response(503, "Generation was cancelled: the server is shutting down.", "", "", "server_error");
      else
        r = json_response(200, out);
    } catch (const ApiError& e) {
      r = error_response(e.status, e.what(), e.param, e.code, e.type);
    } catch (const Error& e) {
      r = error_response(e.kind() == ErrorKind::kInternal ? 500 : 400, e.what());
    } catch (const std::bad_alloc&) {
      r = error_response(503, "The server ran out of memory for this request; retry later or ask for less (max_tokens, n, "
                              "num_beams, a shorter prompt).", "", "out_of_memory", "server_error");
    } catch (const std::exception& e) {
      r = error_response(500, std::string("Internal error: ") + e.what());
    } catch (...) {
      r = error_response(500, "Internal error.");
    }
    account();
    finished();
    return ex->respond(close_if_draining(std::move(r)));
  }
  try {
    HttpResponse head;
    head.content_type = "text/event-stream";
    head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    ex->start_stream(close_if_draining(std::move(head)));
    stream_job(*engine, *job, control, [&ex](const std::string& s) { return ex->write(s); });
  } catch (...) {
    // stream_job catches its own; only allocation failures of the head could get here.
  }
  account();
  finished();
  ex->end();
}

void validate_options(const ServerOptions& options) {
  if (options.parallel < 1 || options.parallel > 4096)
    throw Error(ErrorKind::kInvalidInput, "--max-batch: " + std::to_string(options.parallel) + " (1 to 4096)");
  if (options.prefill_chunk < 0 || options.prefill_chunk > (1 << 24))
    throw Error(ErrorKind::kInvalidInput, "--prefill-chunk: " + std::to_string(options.prefill_chunk) + " (0 = whole prompts, or up to 2^24 tokens)");
  if (options.port < 0 || options.port > 65535)
    throw Error(ErrorKind::kInvalidInput, "--port: " + std::to_string(options.port) + " (0 to 65535; 0 = any free port)");
  if (options.threads < 0 || options.threads > 256)
    throw Error(ErrorKind::kInvalidInput, "--threads: " + std::to_string(options.threads) + " (0 = automatic, or 1 to 256)");
  if (options.max_queue < 0 || options.max_queue > 1000000)
    throw Error(ErrorKind::kInvalidInput, "--max-queue: " + std::to_string(options.max_queue) + " (0 to 1000000)");
  if (options.max_connections < 1 || options.max_connections > 1000000)
    throw Error(ErrorKind::kInvalidInput, "--max-connections: " + std::to_string(options.max_connections) + " (1 to 1000000)");
  if (options.backlog < 1 || options.backlog > 65535)
    throw Error(ErrorKind::kInvalidInput, "--backlog: " + std::to_string(options.backlog) + " (1 to 65535)");
  // Every limit must be positive (a zero or negative one would refuse everything or nothing).
  auto positive = [](const char* flag, double v) {
    if (!(v > 0) || !std::isfinite(v))
      throw Error(ErrorKind::kInvalidInput, std::string(flag) + ": " + std::to_string(v) + " (must be positive)");
  };
  auto positive_int = [](const char* flag, int64_t v, int64_t most = INT64_MAX) {
    if (v <= 0 || v > most)
      throw Error(ErrorKind::kInvalidInput,
                  std::string(flag) + ": " + std::to_string(v) + " (1 to " + std::to_string(most) + ")");
  };
  if (options.max_body_bytes == 0 || options.max_body_bytes > (uint64_t(1) << 40))
    throw Error(ErrorKind::kInvalidInput, "--max-body-bytes: " + std::to_string(options.max_body_bytes) + " (1 to 2^40)");
  if (options.max_header_bytes < 1024 || options.max_header_bytes > (uint64_t(1) << 30))
    throw Error(ErrorKind::kInvalidInput,
                "max_header_bytes: " + std::to_string(options.max_header_bytes) + " (1024 to 2^30)");
  if (options.max_body_memory < options.max_body_bytes)
    throw Error(ErrorKind::kInvalidInput, "max_body_memory: " + std::to_string(options.max_body_memory) +
                                              " (at least --max-body-bytes, " + std::to_string(options.max_body_bytes) + ")");
  positive("--header-timeout", options.header_timeout_s);
  positive("--body-timeout", options.body_timeout_s);
  positive("--read-timeout", options.read_timeout_s);
  positive("--write-timeout", options.write_timeout_s);
  positive("--keep-alive-timeout", options.keep_alive_timeout_s);
  positive("--request-timeout", options.request_timeout_s);
  if (!(options.drain_timeout_s >= 0) || !std::isfinite(options.drain_timeout_s))
    throw Error(ErrorKind::kInvalidInput, "--drain-timeout: " + std::to_string(options.drain_timeout_s) + " (0 or more seconds)");
  positive_int("--keep-alive-max", options.keep_alive_max);
  const RequestLimits& l = options.limits;
  positive_int("--max-json-depth", l.json_max_depth);
  positive_int("--max-messages", l.max_messages);
  positive_int("--max-prompt-tokens", l.max_prompt_tokens);
  positive_int("--max-tokens", l.max_tokens, INT32_MAX);
  positive_int("--max-n", l.max_n, INT32_MAX);
  positive_int("--max-beams", l.max_beams, INT32_MAX);
  positive_int("--max-sequences", l.max_sequences);
  positive_int("--max-stop", l.max_stop);
  positive_int("--max-stop-bytes", l.max_stop_bytes);
  positive_int("--max-token-list", l.max_token_list);
  if (l.max_request_memory == 0) throw Error(ErrorKind::kInvalidInput, "--max-request-memory: 0 (must be positive)");
  if (options.api_key.find_first_of("\r\n") != std::string::npos)
    throw Error(ErrorKind::kInvalidInput, "--api-key: may not contain line breaks");
  if (options.cors_origin.find_first_of("\r\n") != std::string::npos)
    throw Error(ErrorKind::kInvalidInput, "--cors-origin: may not contain line breaks");
}

Server::Server(ServerOptions options) {
  if (bool(options.model) != bool(options.tokenizer))
    throw Error(ErrorKind::kInvalidInput, options.model ? "server: no tokenizer given" : "server: no model given");
  validate_options(options);
  impl_ = std::make_unique<Impl>(std::move(options));
}

Server::~Server() { stop(); }

int Server::start() {
  Impl& s = *impl_;
  if (s.port > 0) return s.port;
  s.port = s.http.start();
  return s.port;
}

void Server::load(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
                  std::shared_ptr<const Model> draft_model) {
  Impl& s = *impl_;
  if (!model || !tokenizer) throw Error(ErrorKind::kInvalidInput, "server: load() needs a model and a tokenizer");
  std::lock_guard lock(s.engine_mu);
  if (s.engine_) throw Error(ErrorKind::kInvalidInput, "server: a model is already loaded");
  const std::string name = s.opts.model_name.empty() ? basename_of(model->config().dir) : s.opts.model_name;
  auto e = std::make_shared<Engine>(serving_model(std::move(model), s.opts), std::move(tokenizer), name);
  e->limits = s.opts.limits;
  set_draft(*e, draft_model ? std::move(draft_model) : s.opts.draft_model);
  s.engine_ = std::move(e);
  s.ready = true;
}

bool Server::ready() const { return impl_->ready; }
int Server::port() const { return impl_->port; }
std::string Server::model_name() const {
  auto e = impl_->engine();
  return e ? e->name : impl_->opts.model_name;
}
bool Server::running() const { return impl_->http.running(); }

void Server::drain(double timeout_s) {
  Impl& s = *impl_;
  s.draining = true;
  s.http.stop_accepting();
  s.scheduler.wait_idle(std::max(timeout_s, 0.0));
  stop();
}

void Server::stop() {
  if (!impl_) return;
  Impl& s = *impl_;
  std::lock_guard lock(s.stop_mu);
  if (s.stopped) return;
  s.stopped = true;
  s.draining = true;
  s.stopping = true;  // running generations stop after their step; streams end with [DONE]
  s.http.stop_accepting();
  s.scheduler.stop();  // waiting requests: 503; joins the workers
  // Let the last answers (final chunks, 503s) go out before the connections close.
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (s.http.open_exchanges() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.http.stop();
}

ServerStats Server::stats() const {
  const Impl& s = *impl_;
  ServerStats st;
  st.requests = s.requests.load();
  st.generations = s.generations.load();
  st.cancelled = s.cancelled.load();
  st.timeouts = s.timeouts.load();
  st.oversized = s.oversized.load();
  st.rejected = s.rejected.load();
  st.deadlines = s.deadlines.load();
  st.active = s.scheduler.running();
  const StepBatcher::Stats bs = Impl::batcher_stats(s.engine().get());
  st.batched_steps = bs.steps;
  st.batched_rows = bs.stepped_rows;
  st.waiting = s.scheduler.waiting();
  st.connections = s.http.connections();
  return st;
}

std::string Server::metrics() const { return impl_->metrics_text(); }

}  // namespace autolm::server
