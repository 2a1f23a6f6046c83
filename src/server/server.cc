// autolm_server's HTTP side: cpp-httplib routes, OpenAI error shapes, SSE streaming, and the
// slots that bound how many requests generate at once.
#include "server/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "autolm/error.h"
#include "server/openai.h"

namespace autolm::server {

namespace {

// Counting semaphore whose waiters give up when the server stops or their client leaves.
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  // False if the server stopped, or client_gone() became true, while waiting.
  bool acquire(const std::atomic<bool>& stopping, const std::function<bool()>& client_gone) {
    std::unique_lock lock(mu_);
    ++waiting_;
    bool gone = false;
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return free_ > 0 || stopping.load(); }))
      if ((gone = client_gone())) break;
    --waiting_;
    if (gone || stopping.load()) return false;
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

// What the HTTP layer knows about the connection being served on this thread: cpp-httplib
// serves each connection on one worker thread from accept to close, and its handlers get no
// handle on the socket, so they reach it through this pointer.
class Connection;
thread_local Connection* tl_conn = nullptr;

using Clock = std::chrono::steady_clock;

// The socket as cpp-httplib's Stream, with every size and wait bounded (cpp-httplib 0.11
// bounds neither chunked bodies, nor header lines, nor the total time a request may take):
//  - a request's line and headers: at most max_header_bytes, within header_timeout_s;
//  - its body (raw bytes, chunk framing included): at most 2 × max_body_bytes + 64 KiB,
//    within body_timeout_s (the decoded body is counted exactly by read_body());
//  - no read waits more than read_timeout_s for a byte; a response waits at most
//    write_timeout_s in all for the client to take its bytes;
//  - reads give up at once when the server stops.
// A read over a limit fails; httplib then answers 400 and the error handler turns it into
// the right status (431, 413, 408) from `refusal`.
class Connection final : public httplib::Stream {
 public:
  enum class Refusal { kNone, kHeaderTooLarge, kBodyTooLarge, kTimeout };

  Connection(int sock, const ServerOptions& o, const std::atomic<bool>& stopping)
      : sock_(sock), o_(o), stopping_(stopping) {}

  // A new request starts: its line and headers are read next.
  void begin_request() {
    refusal = Refusal::kNone;
    close_after = false;
    body_ = false;
    stalled_ = Clock::duration::zero();
    consumed_ = 0;
    budget_ = o_.max_header_bytes;
    deadline_ = Clock::now() + seconds(o_.header_timeout_s);
  }
  // The headers are in (the pre-routing handler runs before httplib reads a body): the body is read next.
  void begin_body() {
    body_ = true;
    consumed_ = 0;
    budget_ = 2 * o_.max_body_bytes + (64u << 10);
    deadline_ = Clock::now() + seconds(o_.body_timeout_s);
  }
  // Waits until the next request starts arriving; false when the client stays idle (or left).
  bool wait_next_request() {
    const auto until = Clock::now() + seconds(o_.keep_alive_timeout_s);
    if (buffered()) return true;
    return wait(POLLIN, until) > 0 && peek_alive();
  }

  Refusal refusal = Refusal::kNone;
  bool close_after = false;  // the request was not read to its end: no keep-alive

  bool is_readable() const override { return buffered() || wait(POLLIN, read_until()) > 0; }
  bool is_writable() const override { return stalled_ < seconds(o_.write_timeout_s) && peek_alive(); }

  ssize_t read(char* ptr, size_t size) override {
    if (consumed_ >= budget_) {
      refusal = body_ ? Refusal::kBodyTooLarge : Refusal::kHeaderTooLarge;
      return -1;
    }
    size = static_cast<size_t>(std::min<uint64_t>(size, budget_ - consumed_));
    if (!buffered()) {
      const int w = wait(POLLIN, read_until());
      if (w <= 0) {
        if (w == 0) refusal = Refusal::kTimeout;  // the request's time, or read_timeout_s without a byte
        return -1;
      }
      const ssize_t n = ::recv(sock_, buf_, sizeof buf_, 0);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    consumed_ += n;
    return static_cast<ssize_t>(n);
  }

  // Sends all of it, or fails. Time spent waiting for a client that does not read is charged
  // to the response's stall budget (write_timeout_s in all): a reader slow enough to throttle
  // generation loses its response instead of holding its slot for as long as it likes.
  ssize_t write(const char* ptr, size_t size) override {
    if (!peek_alive()) return -1;
    size_t sent = 0;
    while (sent < size) {
      const ssize_t n = ::send(sock_, ptr + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += size_t(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return -1;
      const auto t0 = Clock::now();
      const auto budget = seconds(o_.write_timeout_s) - stalled_;
      if (budget <= Clock::duration::zero()) return -1;
      const int w = wait(POLLOUT, t0 + budget);
      stalled_ += Clock::now() - t0;
      if (w <= 0) return -1;
    }
    return static_cast<ssize_t>(size);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  int socket() const override { return sock_; }

  // Closes the connection. When the request was not read to its end (refused early), first
  // stops sending and reads and drops what the client still sends — at most 4 × max_body_bytes
  // + 1 MiB, for at most 5 s — so that closing with unread bytes does not reset the connection
  // before the client read the answer (clients send the whole body before reading).
  void close() {
    if (!close_after) {
      ::close(sock_);
      return;
    }
    ::shutdown(sock_, SHUT_WR);
    const auto until = Clock::now() + seconds(std::min(5.0, o_.body_timeout_s));
    const uint64_t cap = 4 * o_.max_body_bytes + (1u << 20);
    char sink[16384];
    for (uint64_t drained = 0; drained < cap && wait(POLLIN, until) > 0;) {
      const ssize_t n = ::recv(sock_, sink, sizeof sink, 0);
      if (n <= 0) break;
      drained += size_t(n);
    }
    ::close(sock_);
  }

 private:
  static Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::clamp(s, 0.0, 1e6)));
  }
  bool buffered() const { return pos_ < len_; }
  Clock::time_point read_until() const { return std::min(deadline_, Clock::now() + seconds(o_.read_timeout_s)); }
  // poll() in short slices so that stop() is noticed: >0 ready, 0 timed out, <0 error or stopping.
  int wait(short events, Clock::time_point until) const {
    while (true) {
      if (stopping_.load()) return -1;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
      if (left <= 0) return 0;
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 100)));
      if (r > 0) return (p.revents & (events | POLLHUP | POLLERR)) ? 1 : -1;
      if (r < 0 && errno != EINTR) return -1;
    }
  }

 public:
  // False once the client closed its side (as httplib's is_socket_alive).
  bool peek_alive() const {
    char c;
    const ssize_t n = ::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
  }
 private:
  template <typename F>
  void address(F get, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ip.clear();
    port = 0;
    if (get(sock_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return;
    char host[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
      port = ntohs(v4->sin_port);
    } else if (a.ss_family == AF_INET6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
      port = ntohs(v6->sin6_port);
    }
    ip = host;
  }

  int sock_;
  const ServerOptions& o_;
  const std::atomic<bool>& stopping_;
  char buf_[16384];
  size_t pos_ = 0, len_ = 0;
  uint64_t consumed_ = 0, budget_ = 0;
  bool body_ = false;
  Clock::time_point deadline_{};
  Clock::duration stalled_{};  // this response's time waiting on the client (write())
};

// httplib::Server whose connections are served through Connection (above): keep-alive
// bounded by keep_alive_max / keep_alive_timeout_s, and nothing thrown escapes the worker.
class HttpServer final : public httplib::Server {
 public:
  HttpServer(const ServerOptions& o, const std::atomic<bool>& stopping) : o_(o), stopping_(stopping) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ok = false;
    try {
      Connection conn(sock, o_, stopping_);
      tl_conn = &conn;
      for (int count = std::max(o_.keep_alive_max, 1); count > 0 && !stopping_.load(); --count) {
        if (count != std::max(o_.keep_alive_max, 1) && !conn.wait_next_request()) break;
        conn.begin_request();
        bool closed = false;
        ok = process_request(conn, count == 1, closed, nullptr);
        if (!ok || closed || conn.close_after || conn.refusal != Connection::Refusal::kNone) break;
      }
      tl_conn = nullptr;
      // Cut off mid-request for its size: linger so that the client sees the answer. (A client
      // that sent nothing before the header timeout is simply closed.)
      if (conn.refusal == Connection::Refusal::kHeaderTooLarge || conn.refusal == Connection::Refusal::kBodyTooLarge)
        conn.close_after = true;
      conn.close();
    } catch (...) {
      tl_conn = nullptr;  // never let an exception end the process from a worker thread
      ::close(sock);
    }
    return ok;
  }

  const ServerOptions& o_;
  const std::atomic<bool>& stopping_;
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
  std::atomic<bool> stopping{false};
  HttpServer http;
  std::thread thread;
  int port = -1;
  Slots slots;
  std::atomic<uint64_t> requests{0}, generations{0}, cancelled{0}, timeouts{0}, oversized{0};
  std::atomic<int> active{0};
  std::mutex stop_mu;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)),
        engine(opts.model, opts.tokenizer, opts.model_name.empty() ? basename_of(opts.model->config().dir) : opts.model_name),
        http(opts, stopping),
        slots(opts.parallel) {
    engine.limits = opts.limits;
    engine.draft = opts.draft_model;
    if (engine.draft) engine.draft_config = GenerationConfig::for_model(*engine.draft);
  }

  // One generation slot, held for the lifetime of this object.
  struct Slot {
    Impl& s;
    bool ok;
    explicit Slot(Impl& impl) : s(impl), ok(impl.slots.acquire(impl.stopping, client_gone())) {
      if (ok) ++s.active;
    }
    ~Slot() {
      if (!ok) return;
      --s.active;
      ++s.generations;
      s.slots.release();
    }
  };

  // The client of this thread's request has gone away (checked while waiting for a slot and
  // after every generation step, so that nobody's request does not keep generating).
  static std::function<bool()> client_gone() {
    return [conn = tl_conn] { return conn != nullptr && !conn->peek_alive(); };
  }
  RunControl control() {
    return RunControl{[this, gone = client_gone()] { return !stopping.load() && !gone(); }, nullptr};
  }

  void routes();
  bool read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                 std::string& body);
  void generate_route(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                      bool chat);
  ojson model_object() const {
    return {{"id", engine.name}, {"object", "model"}, {"created", engine.created}, {"owned_by", "autolm"}};
  }
};

// The request body, read here rather than by httplib so that its size is bounded however it
// is sent: Content-Length (checked before reading, in the pre-routing handler), chunked, or
// until the client closes. False when refused (the response is set and the connection will close).
bool Server::Impl::read_body(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader,
                             std::string& body) {
  auto refuse = [&](int status, const std::string& message, const char* code) {
    if (tl_conn) tl_conn->close_after = true;  // the rest of the body is still in the socket
    res.set_header("Connection", "close");
    send_error(res, status, message, "", code);
    return false;
  };
  if (req.is_multipart_form_data())
    return refuse(415, "multipart/form-data bodies are not accepted; send JSON with Content-Type: application/json.",
                  "unsupported_media_type");
  bool too_large = false;
  const bool ok = reader([&](const char* data, size_t n) {
    if (n > opts.max_body_bytes - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  const auto refusal = tl_conn ? tl_conn->refusal : Connection::Refusal::kNone;
  if (too_large || res.status == 413 || refusal == Connection::Refusal::kBodyTooLarge) {
    ++oversized;
    return refuse(413, "The request body is larger than the server's limit of " + std::to_string(opts.max_body_bytes) +
                           " bytes (autolm serve --max-body-bytes).",
                  "request_too_large");
  }
  if (refusal == Connection::Refusal::kTimeout) {
    ++timeouts;
    return refuse(408, "The request body did not arrive in time (autolm serve --body-timeout, --read-timeout).",
                  "request_timeout");
  }
  if (!ok) return refuse(400, "The request body could not be read (malformed chunked encoding, or the client stopped sending).", "invalid_body");
  return true;
}

void Server::Impl::generate_route(const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& reader, bool chat) {
  try {
    std::string body;
    if (!read_body(req, res, reader, body)) return;
    auto job = std::make_shared<Job>(chat ? parse_chat_request(engine, body) : parse_completion_request(engine, body));
    std::string().swap(body);  // the body is no longer needed while generating
    RunControl control = this->control();
    if (opts.before_generate) control.before_generate = [this, job] { opts.before_generate(*job); };
    if (!job->stream) {
      Slot slot(*this);
      if (!slot.ok) return send_error(res, 503, "The server is shutting down.", "", "", "server_error");
      ojson out = run_job(engine, *job, control);
      if (control.cancelled) {  // the server is stopping, or nobody is left to read the answer
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
    res.set_chunked_content_provider("text/event-stream", [this, job, control](size_t, httplib::DataSink& sink) mutable {
      try {
        auto write = [&sink](const std::string& s) { return sink.write(s.data(), s.size()); };
        Slot slot(*this);
        if (!slot.ok) {
          write(error_event("The server is shutting down.", "server_error"));
        } else {
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
    send_error(res, 503, "The server ran out of memory for this request; retry later or ask for less (max_tokens, n, "
                         "num_beams, a shorter prompt).", "", "out_of_memory", "server_error");
  } catch (const std::exception& e) {
    send_error(res, 500, std::string("Internal error: ") + e.what());
  } catch (...) {
    send_error(res, 500, "Internal error.");
  }
}

void Server::Impl::routes() {
  http.set_payload_max_length(opts.max_body_bytes);
  http.set_keep_alive_max_count(size_t(std::max(opts.keep_alive_max, 1)));
  http.set_keep_alive_timeout(time_t(std::ceil(opts.keep_alive_timeout_s)));
  const size_t threads = opts.threads > 0 ? size_t(opts.threads) : std::max<size_t>(8, 2 * size_t(opts.parallel) + 4);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Runs once the request line and headers are in, before httplib reads any body: refuses
  // what would make it read a body it cannot bound or frame (declared too large, framing it
  // does not implement, methods whose body it reads unbounded).
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    ++requests;
    if (tl_conn) tl_conn->begin_body();
    auto refuse = [&](int status, const std::string& message, const char* code) {
      if (tl_conn) tl_conn->close_after = true;
      res.set_header("Connection", "close");
      send_error(res, status, message, "", code);
      return httplib::Server::HandlerResponse::Handled;
    };
    static const std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    if (!methods.count(req.method)) return refuse(405, "Method " + req.method + " is not allowed.", "method_not_allowed");
    const bool has_length = req.has_header("Content-Length"), has_te = req.has_header("Transfer-Encoding");
    if (has_te) {
      const std::string te = req.get_header_value("Transfer-Encoding");
      if (te != "chunked" || req.get_header_value_count("Transfer-Encoding") != 1)
        return refuse(501, "Transfer-Encoding '" + te + "' is not supported (only 'chunked').", "unsupported_encoding");
      if (has_length)
        return refuse(400, "A request may not have both Content-Length and Transfer-Encoding.", "invalid_request");
    }
    if (has_length) {
      const std::string cl = req.get_header_value("Content-Length");
      const bool digits = !cl.empty() && cl.size() <= 19 && cl.find_first_not_of("0123456789") == std::string::npos &&
                          req.get_header_value_count("Content-Length") == 1;
      if (!digits) return refuse(400, "Invalid Content-Length header: '" + cl + "'.", "invalid_request");
      if (std::stoull(cl) > opts.max_body_bytes) {
        ++oversized;
        return refuse(413, "The request body (" + cl + " bytes) is larger than the server's limit of " +
                               std::to_string(opts.max_body_bytes) + " bytes (autolm serve --max-body-bytes).",
                      "request_too_large");
      }
    }
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
  // Routes with a body read it through a ContentReader (read_body), never into req.body.
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) { generate_route(req, res, reader, false); });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res,
                                           const httplib::ContentReader& reader) { generate_route(req, res, reader, true); });

  // Everything else with a body is answered without reading it, and the connection closes.
  auto no_body = [](std::function<void(const httplib::Request&, httplib::Response&)> f) {
    return [f](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader&) {
      if (tl_conn) tl_conn->close_after = true;
      res.set_header("Connection", "close");
      f(req, res);
    };
  };
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
  http.Post(get_paths, no_body(not_allowed("GET")));
  http.Get(post_paths, not_allowed("POST"));
  for (const auto& [pattern, allow] : {std::pair{get_paths, "GET"}, std::pair{post_paths, "POST"}}) {
    http.Put(pattern, no_body(not_allowed(allow)));
    http.Patch(pattern, no_body(not_allowed(allow)));
    http.Delete(pattern, no_body(not_allowed(allow)));
  }
  auto unknown = [](const httplib::Request& req, httplib::Response& res) { res.status = 404; (void)req; };
  http.Post(".*", no_body(unknown));
  http.Put(".*", no_body(unknown));
  http.Patch(".*", no_body(unknown));
  http.Delete(".*", no_body(unknown));

  // Statuses httplib sets itself (404 unrouted, 413 body too large, 400 malformed HTTP) get
  // OpenAI's error body; responses that already have one are left alone. A failed read of the
  // request (too large, too slow) reaches here as httplib's 400: the connection says why.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message, code;
    const auto refusal = tl_conn ? tl_conn->refusal : Connection::Refusal::kNone;
    if (tl_conn) tl_conn->close_after = true;  // httplib may not have read the whole request
    res.set_header("Connection", "close");
    if (refusal == Connection::Refusal::kHeaderTooLarge) {
      res.status = 431;
      ++oversized;
      message = "The request line and headers are larger than the server's limit of " +
                std::to_string(opts.max_header_bytes) + " bytes.";
      code = "headers_too_large";
    } else if (refusal == Connection::Refusal::kBodyTooLarge) {
      res.status = 413;
      ++oversized;
      message = "The request body is larger than the server's limit of " + std::to_string(opts.max_body_bytes) + " bytes.";
      code = "request_too_large";
    } else if (refusal == Connection::Refusal::kTimeout) {
      res.status = 408;
      ++timeouts;
      message = "The request did not arrive in time (autolm serve --header-timeout, --body-timeout, --read-timeout).";
      code = "request_timeout";
    } else {
      switch (res.status) {
        case 404:
          message = "Unknown request URL: " + req.method + " " + req.path + ". Known: GET /health, GET /v1/models, "
                    "POST /v1/completions, POST /v1/chat/completions.";
          code = "unknown_url";
          break;
        case 413:
          ++oversized;
          message = "The request body is larger than the server's limit of " + std::to_string(opts.max_body_bytes) + " bytes.";
          code = "request_too_large";
          break;
        default:
          message = "HTTP error " + std::to_string(res.status) + ".";
      }
    }
    send_error(res, res.status, message, "", code);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    int status = 500;
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::bad_alloc&) {
      status = 503;
      what = "out of memory";
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, status, "Internal error: " + what);
  });
}

void validate_options(const ServerOptions& options) {
  if (options.parallel < 1)
    throw Error(ErrorKind::kInvalidInput, "--parallel: " + std::to_string(options.parallel) + " (must be at least 1)");
  if (options.port < 0 || options.port > 65535)
    throw Error(ErrorKind::kInvalidInput, "--port: " + std::to_string(options.port) + " (0 to 65535; 0 = any free port)");
  if (options.threads < 0 || options.threads > 4096)
    throw Error(ErrorKind::kInvalidInput, "--threads: " + std::to_string(options.threads) + " (0 = automatic, or 1 to 4096)");
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
  positive("--header-timeout", options.header_timeout_s);
  positive("--body-timeout", options.body_timeout_s);
  positive("--read-timeout", options.read_timeout_s);
  positive("--write-timeout", options.write_timeout_s);
  positive("--keep-alive-timeout", options.keep_alive_timeout_s);
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
}

Server::Server(ServerOptions options) {
  if (!options.model) throw Error(ErrorKind::kInvalidInput, "server: no model given");
  if (!options.tokenizer) throw Error(ErrorKind::kInvalidInput, "server: no tokenizer given");
  validate_options(options);
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
  st.timeouts = s.timeouts.load();
  st.oversized = s.oversized.load();
  st.active = s.active.load();
  st.waiting = s.slots.waiting();
  return st;
}

}  // namespace autolm::server
