// autolm_server's HTTP side: cpp-httplib routes, OpenAI error shapes, SSE streaming, and the
// slots that bound how many requests generate at once.
#include "server/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "autolm/error.h"
#include "server/openai.h"

namespace autolm::server {

namespace {

// Counting semaphore whose waiters give up when the server stops.
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  // False if the server stopped while waiting.
  bool acquire(const std::atomic<bool>& stopping) {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return free_ > 0 || stopping.load(); });
    --waiting_;
    if (stopping.load()) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    cv_.notify_one();
  }
  void wake_all() {
    { std::lock_guard lock(mu_); }
    cv_.notify_all();
  }
  int waiting() const {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int free_ = 0, waiting_ = 0;
};

std::string basename_of(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string name = std::filesystem::path(dir).filename().string();
  return name.empty() ? dir : name;
}

const char* status_type(int status) { return status >= 500 ? "server_error" : "invalid_request_error"; }

void send_json(httplib::Response& res, int status, const ojson& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message, const std::string& param = "",
                const std::string& code = "", const std::string& type = "") {
  send_json(res, status, error_body(message, type.empty() ? status_type(status) : type, param, code));
}

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  Engine engine;
  httplib::Server http;
  std::thread thread;
  int port = -1;
  Slots slots;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> requests{0}, generations{0}, cancelled{0};
  std::atomic<int> active{0};
  std::mutex stop_mu;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)),
        engine(opts.model, opts.tokenizer, opts.model_name.empty() ? basename_of(opts.model->config().dir) : opts.model_name),
        slots(opts.parallel) {}

  // One generation slot, held for the lifetime of this object.
  struct Slot {
    Impl& s;
    bool ok;
    explicit Slot(Impl& impl) : s(impl), ok(impl.slots.acquire(impl.stopping)) {
      if (ok) ++s.active;
    }
    ~Slot() {
      if (!ok) return;
      --s.active;
      ++s.generations;
      s.slots.release();
    }
  };

  void routes();
  void generate_route(const httplib::Request& req, httplib::Response& res, bool chat);
  ojson model_object() const {
    return {{"id", engine.name}, {"object", "model"}, {"created", engine.created}, {"owned_by", "autolm"}};
  }
};

void Server::Impl::generate_route(const httplib::Request& req, httplib::Response& res, bool chat) {
  try {
    auto job = std::make_shared<Job>(chat ? parse_chat_request(engine, req.body) : parse_completion_request(engine, req.body));
    if (!job->stream) {
      Slot slot(*this);
      if (!slot.ok) return send_error(res, 503, "The server is shutting down.", "", "", "server_error");
      RunControl control{[this] { return !stopping.load(); }};
      ojson out = run_job(engine, *job, control);
      if (control.cancelled) {
        ++cancelled;
        return send_error(res, 503, "Generation was cancelled: the server is shutting down.", "", "", "server_error");
      }
      return send_json(res, 200, out);
    }
    // Streaming: generation runs inside the content provider, on this same worker thread,
    // after the headers went out. Everything in it must catch its own exceptions.
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [this, job](size_t, httplib::DataSink& sink) {
      try {
        auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
        Slot slot(*this);
        if (!slot.ok) {
          write(error_event("The server is shutting down.", "server_error"));
        } else {
          RunControl control{[this] { return !stopping.load(); }};
          stream_job(engine, *job, control, write);
          if (control.cancelled) ++cancelled;
        }
        sink.done();
      } catch (...) {
        return false;  // abort the connection; never let an exception leave the worker thread
      }
      return true;
    });
  } catch (const ApiError& e) {
    send_error(res, e.status, e.what(), e.param, e.code, e.type);
  } catch (const Error& e) {
    const int status = e.kind() == ErrorKind::kInternal ? 500 : 400;
    send_error(res, status, e.what());
  } catch (const std::bad_alloc&) {
    send_error(res, 500, "The server ran out of memory for this request.");
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("Internal error: ") + e.what());
  } catch (...) {
    send_error(res, 500, "Internal error.");
  }
}

void Server::Impl::routes() {
  http.set_payload_max_length(opts.max_body_bytes);
  const size_t threads = opts.threads > 0 ? size_t(opts.threads) : std::max<size_t>(8, 2 * size_t(opts.parallel) + 4);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    ++requests;
    return httplib::Server::HandlerResponse::Unhandled;
  });

  http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", ojson::array({model_object()})}});
  });
  http.Get("/v1/models/(.+)", [this](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == engine.name) return send_json(res, 200, model_object());
    send_error(res, 404, "The model '" + std::string(req.matches[1]) + "' does not exist.", "model", "model_not_found");
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { generate_route(req, res, false); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { generate_route(req, res, true); });

  // Known paths with the wrong method: 405 with Allow.
  auto not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      send_error(res, 405, "Method " + req.method + " is not allowed for " + req.path + " (allowed: " + allow + ").", "",
                 "method_not_allowed");
    };
  };
  const char* get_paths = "/health|/v1/models|/v1/models/.+";
  const char* post_paths = "/v1/completions|/v1/chat/completions";
  http.Post(get_paths, not_allowed("GET"));
  http.Get(post_paths, not_allowed("POST"));
  for (const auto& [pattern, allow] : {std::pair{get_paths, "GET"}, std::pair{post_paths, "POST"}}) {
    http.Put(pattern, not_allowed(allow));
    http.Patch(pattern, not_allowed(allow));
    http.Delete(pattern, not_allowed(allow));
  }

  // Statuses httplib sets itself (404 unrouted, 413 body too large, 400 malformed HTTP) get
  // OpenAI's error body; responses that already have one are left alone.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message, code;
    switch (res.status) {
      case 404:
        message = "Unknown request URL: " + req.method + " " + req.path + ". Known: GET /health, GET /v1/models, "
                  "POST /v1/completions, POST /v1/chat/completions.";
        code = "unknown_url";
        break;
      case 413:
        if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0)
          message = "The request body is too large for Content-Type application/x-www-form-urlencoded (8192 bytes); "
                    "send JSON with Content-Type: application/json.";
        else
          message = "The request body is larger than the server's limit of " + std::to_string(opts.max_body_bytes) + " bytes.";
        code = "request_too_large";
        break;
      default:
        message = "HTTP error " + std::to_string(res.status) + ".";
    }
    send_error(res, res.status, message, "", code);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, 500, "Internal error: " + what);
  });
}

Server::Server(ServerOptions options) {
  if (!options.model) throw Error(ErrorKind::kInvalidInput, "server: no model given");
  if (!options.tokenizer) throw Error(ErrorKind::kInvalidInput, "server: no tokenizer given");
  if (options.parallel < 1)
    throw Error(ErrorKind::kInvalidInput, "--parallel: " + std::to_string(options.parallel) + " (must be at least 1)");
  if (options.port < 0 || options.port > 65535)
    throw Error(ErrorKind::kInvalidInput, "--port: " + std::to_string(options.port) + " (0 to 65535; 0 = any free port)");
  impl_ = std::make_unique<Impl>(std::move(options));
  impl_->routes();
}

Server::~Server() { stop(); }

int Server::start() {
  Impl& s = *impl_;
  if (s.thread.joinable()) return s.port;
  if (s.opts.port == 0) {
    s.port = s.http.bind_to_any_port(s.opts.host);
    if (s.port <= 0) throw Error(ErrorKind::kInvalidInput, "server: cannot bind " + s.opts.host + " (any port)");
  } else {
    if (!s.http.bind_to_port(s.opts.host, s.opts.port))
      throw Error(ErrorKind::kInvalidInput,
                  "server: cannot bind " + s.opts.host + ":" + std::to_string(s.opts.port) + " (in use, or not an address here)");
    s.port = s.opts.port;
  }
  s.thread = std::thread([&s] {
    // A client that goes away makes writes fail with EPIPE; SIGPIPE would end the process.
    // Blocked here, it stays blocked in every worker thread httplib starts from this one.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    s.http.listen_after_bind();
  });
  // stop() before listen starts would be lost: wait until the server runs.
  for (int i = 0; i < 5000 && !s.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s.port;
}

int Server::port() const { return impl_->port; }
const std::string& Server::model_name() const { return impl_->engine.name; }
bool Server::running() const { return impl_->http.is_running(); }

void Server::stop() {
  if (!impl_) return;
  Impl& s = *impl_;
  std::lock_guard lock(s.stop_mu);
  s.stopping = true;
  s.slots.wake_all();
  if (s.thread.joinable()) {
    s.http.stop();
    s.thread.join();
  }
}

ServerStats Server::stats() const {
  const Impl& s = *impl_;
  ServerStats st;
  st.requests = s.requests.load();
  st.generations = s.generations.load();
  st.cancelled = s.cancelled.load();
  st.active = s.active.load();
  st.waiting = s.slots.waiting();
  return st;
}

}  // namespace autolm::server
