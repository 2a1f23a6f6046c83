// The event-driven HTTP/1.1 layer (http.h) on Boost.Beast / Asio: one acceptor, a session per
// connection living on its own strand, a few I/O threads. A session reads a request (header
// then body, each against its deadline), hands it to HttpHandlers::handle as an Exchange, and
// reads the next one once the answer went out. No thread ever waits on a client.
#include "server/http.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "autolm/error.h"

namespace autolm::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::clamp(s, 0.0, 1e6)));
}

// "HTTP/1.1 200 OK\r\n" + headers + "\r\n"; the body framed by Content-Length or chunked.
std::string serialize_head(const HttpResponse& r, const HttpRequest& req, bool chunked, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " ";
  const auto reason = http::obsolete_reason(static_cast<http::status>(r.status));
  out += reason.empty() || reason[0] == '<' ? std::string("Unknown") : std::string(reason);
  out += "\r\n";
  if (!r.content_type.empty()) out += "Content-Type: " + r.content_type + "\r\n";
  out += chunked ? std::string("Transfer-Encoding: chunked\r\n") : "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  for (const auto& [k, v] : req.response_headers) out += k + ": " + v + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

}  // namespace

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

size_t HttpRequest::header_count(std::string_view name) const {
  return size_t(std::count_if(headers.begin(), headers.end(), [&](const auto& kv) { return iequals(kv.first, name); }));
}

class Session;

struct HttpServer::Impl {
  HttpOptions o;
  HttpHandlers h;
  std::atomic<int> connections{0}, exchanges{0};
  std::atomic<uint64_t> body_memory{0};  // bytes reserved by bodies being read
  std::atomic<bool> stopping{false}, started{false};
  std::mutex sessions_mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  // Declared last: destroyed first, with the handlers (and sessions) it still holds.
  net::io_context ioc;
  tcp::acceptor acceptor{net::make_strand(ioc)};
  // Keeps the I/O threads running while no operation is pending (a session waiting for a
  // worker's next piece has none).
  net::executor_work_guard<net::io_context::executor_type> work{net::make_work_guard(ioc)};
  std::vector<std::thread> threads;

  Impl(HttpOptions options, HttpHandlers handlers) : o(std::move(options)), h(std::move(handlers)) {}
  void accept();
  void refuse_connection(tcp::socket& sock);
};

// One connection, on its strand. Reads a request, dispatches it, writes its answer, repeats.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl& s, tcp::socket sock) : s_(s), sock_(std::move(sock)), timer_(sock_.get_executor()) {
    ++s_.connections;
  }
  ~Session() {
    release_body_memory();
    --s_.connections;
    std::lock_guard lock(s_.sessions_mu);
    s_.sessions.erase(this);
  }

  void start() {
    {
      std::lock_guard lock(s_.sessions_mu);
      s_.sessions.emplace(this, weak_from_this());
    }
    accepted_ = Clock::now();
    read_request(true);
  }

  net::any_io_executor executor() { return sock_.get_executor(); }
  int native_handle() { return sock_.native_handle(); }
  const HttpServer::Impl& server() const { return s_; }

  // --- the answer, queued by the Exchange (always on the strand) ---
  void send(std::string data, bool final, bool close_after);
  void abort() { close(); }
  void stop() { close(); }

  class Ex;

 private:
  void read_request(bool first);
  void read_header();
  void on_header();
  void read_body();
  void dispatch();
  void refuse(int status, const std::string& message, const std::string& code);
  void pump();
  void finish_response();
  void linger_then_close();
  void close();
  std::shared_ptr<Ex> new_exchange();
  void end_exchange() {
    if (in_exchange_) --s_.exchanges;
    in_exchange_ = false;
    ex_.reset();
  }
  void release_body_memory() {
    if (reserved_) s_.body_memory -= std::exchange(reserved_, 0);
  }
  void fail(beast::error_code ec, bool header);

  HttpServer::Impl& s_;
  tcp::socket sock_;
  // One deadline at a time (a session reads or writes, never both): when it passes, the
  // pending operation is cancelled and completes with `timed_out_` set.
  net::steady_timer timer_;
  bool timed_out_ = false;
  uint64_t timer_gen_ = 0;
  void arm(Clock::time_point until) {
    timed_out_ = false;
    timer_.expires_at(until);
    timer_.async_wait([self = shared_from_this(), gen = ++timer_gen_](beast::error_code ec) {
      if (ec || gen != self->timer_gen_ || self->closed_) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->sock_.cancel(ignored);
    });
  }
  void disarm() {
    ++timer_gen_;
    timer_.cancel();
  }
  // An operation's error, with a cancellation by the deadline reported as a timeout.
  beast::error_code outcome(beast::error_code ec) {
    disarm();
    if (ec == net::error::operation_aborted && timed_out_) return beast::error::timeout;
    return ec;
  }
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest req_;                   // being read
  std::shared_ptr<HttpRequest> cur_;  // being answered (for the access log)
  std::weak_ptr<Ex> ex_;              // its Exchange, while its owner holds it
  bool in_exchange_ = false;
  Clock::time_point accepted_{}, started_{}, header_deadline_{}, body_deadline_{};
  int served_ = 0;
  bool keep_alive_ = true, linger_ = false, closed_ = false, writing_ = false, final_queued_ = false;
  int status_ = 0;
  uint64_t bytes_ = 0, reserved_ = 0;
  std::deque<std::string> out_;
  friend class Ex;
};

// The Exchange handed to the server: thread-safe; everything it does to the connection is
// posted to the session's strand.
class Session::Ex final : public Exchange {
 public:
  Ex(std::shared_ptr<Session> s, std::shared_ptr<HttpRequest> req, bool keep_alive)
      : s_(std::move(s)), req_(std::move(req)), keep_alive_(keep_alive) {
    fd_ = ::dup(s_->native_handle());
  }
  ~Ex() override {
    if (!answered_.exchange(true)) {
      // Never answered (a handler bug): a 500 rather than a connection left hanging.
      net::post(s_->executor(), [s = s_, data = head(s_->s_.h.error(500, "The request was not answered.", ""))]() mutable {
        s->status_ = 500;
        s->send(std::move(data), true, false);
      });
    } else if (streaming_ && !ended_) {
      net::post(s_->executor(), [s = s_] { s->abort(); });
    }
    close_fd();
  }

  HttpRequest& request() override { return *req_; }

  void respond(HttpResponse r) override {
    if (answered_.exchange(true)) return;
    if (r.close) close_after_ = true;
    std::string data = head(r);
    if (req_->method != "HEAD") data += r.body;
    finished();
    net::post(s_->executor(), [s = s_, data = std::move(data), st = r.status, close = close_after_]() mutable {
      s->status_ = st;
      s->send(std::move(data), true, close);
    });
  }

  bool start_stream(HttpResponse r) override {
    if (answered_.exchange(true)) return false;
    streaming_ = true;
    if (r.close) close_after_ = true;
    std::string data = head(r, true);
    net::post(s_->executor(), [s = s_, data = std::move(data), st = r.status]() mutable {
      s->status_ = st;
      s->send(std::move(data), false, false);
    });
    return !dead();
  }

  bool write(std::string_view piece) override {
    if (!streaming_ || ended_ || piece.empty()) return !dead();
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    std::string data = size;
    data.append(piece);
    data += "\r\n";
    std::unique_lock lock(mu_);
    if (dead_ || s_->s_.stopping) return false;
    pending_ += data.size();
    net::post(s_->executor(), [s = s_, data = std::move(data)]() mutable { s->send(std::move(data), false, false); });
    // The client is behind: wait for it, charging the wait to this response's budget.
    constexpr uint64_t kHighWater = 256u << 10;
    while (pending_ > kHighWater && !dead_) {
      const auto t0 = Clock::now();
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      stalled_ += Clock::now() - t0;
      if (stalled_ > seconds(s_->s_.o.write_timeout_s) || s_->s_.stopping) {
        dead_ = true;
        net::post(s_->executor(), [s = s_] { s->abort(); });
      }
    }
    return !dead_;
  }

  void end() override {
    if (!streaming_ || ended_) return;
    ended_ = true;
    finished();
    net::post(s_->executor(), [s = s_, close = close_after_] { s->send("0\r\n\r\n", true, close); });
  }

  bool client_gone() override {
    std::lock_guard lock(mu_);
    if (dead_) return true;
    if (fd_ < 0) return false;
    char c;
    const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }

  // From the strand: bytes went out, or the connection died.
  void written(uint64_t n) {
    std::lock_guard lock(mu_);
    pending_ -= std::min(pending_, n);
    cv_.notify_all();
  }
  void kill() {
    std::lock_guard lock(mu_);
    dead_ = true;
    cv_.notify_all();
  }
  bool dead() {
    std::lock_guard lock(mu_);
    return dead_;
  }

 private:
  std::string head(const HttpResponse& r, bool chunked = false) {
    return serialize_head(r, *req_, chunked, !close_after_ && keep_alive_);
  }
  void finished() { close_fd(); }
  void close_fd() {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  std::shared_ptr<Session> s_;
  std::shared_ptr<HttpRequest> req_;
  const bool keep_alive_;  // decided when the request was read
  std::atomic<bool> answered_{false};
  bool streaming_ = false, ended_ = false, close_after_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t pending_ = 0;
  bool dead_ = false;
  Clock::duration stalled_{};
  int fd_ = -1;
};

void Session::read_request(bool first) {
  if (closed_) return;
  if (s_.stopping) return close();
  // After a "Connection: close" answer: stop sending, and let the client read it before the
  // socket closes (closing with unread pipelined bytes would reset the connection).
  if (!first && !keep_alive_) return linger_then_close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(std::min<uint64_t>(s_.o.max_header_bytes, UINT32_MAX)));
  // Checked once the headers are in (on_header). (Not boost::none: 1.74 compares a length
  // against an empty optional as larger.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  req_ = HttpRequest{};
  status_ = 0;
  bytes_ = 0;
  linger_ = false;
  final_queued_ = false;
  started_ = Clock::now();
  if (buffer_.size() > 0) {  // pipelined: the next request is already here
    header_deadline_ = Clock::now() + seconds(s_.o.header_timeout_s);
    return read_header();
  }
  // Idle until the first byte: a new connection has header_timeout_s in all to send its
  // headers, a kept-alive one keep_alive_timeout_s to start its next request.
  arm(first ? accepted_ + seconds(s_.o.header_timeout_s) : Clock::now() + seconds(s_.o.keep_alive_timeout_s));
  sock_.async_read_some(buffer_.prepare(16384), [self = shared_from_this(), first](beast::error_code ec, size_t n) {
    if (self->outcome(ec)) return self->close();  // idle, or the client left: closed without an answer
    self->buffer_.commit(n);
    self->started_ = Clock::now();
    self->header_deadline_ = first ? self->accepted_ + seconds(self->s_.o.header_timeout_s)
                                   : Clock::now() + seconds(self->s_.o.header_timeout_s);
    self->read_header();
  });
}

void Session::read_header() {
  arm(std::min(header_deadline_, Clock::now() + seconds(s_.o.read_timeout_s)));
  http::async_read_some(sock_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if ((ec = self->outcome(ec))) return self->fail(ec, true);
    if (!self->parser_->is_header_done()) return self->read_header();
    self->on_header();
  });
}

void Session::fail(beast::error_code ec, bool header) {
  if (closed_) return;
  if (ec == beast::error::timeout) {
    if (header && !parser_->got_some() && buffer_.size() == 0) return close();
    return refuse(408, "The request did not arrive in time (autolm serve --header-timeout, --body-timeout, --read-timeout).",
                  "request_timeout");
  }
  if (ec == http::error::header_limit)
    return refuse(431, "The request line and headers are larger than the server's limit of " +
                           std::to_string(s_.o.max_header_bytes) + " bytes.", "headers_too_large");
  if (ec == http::error::body_limit)
    return refuse(413, "The request body is larger than the server's limit of " + std::to_string(s_.o.max_body_bytes) +
                           " bytes (autolm serve --max-body-bytes).", "request_too_large");
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
      ec != http::error::partial_message)
    return refuse(400, std::string("Malformed HTTP request: ") + ec.message() + ".", "invalid_request");
  close();  // the client closed or reset the connection
}

void Session::on_header() {
  const auto& m = parser_->get();
  req_.method = std::string(m.method_string());
  req_.target = std::string(m.target());
  req_.path = req_.target.substr(0, req_.target.find('?'));
  for (const auto& f : m) req_.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  beast::error_code ec;
  const auto ep = sock_.remote_endpoint(ec);
  if (!ec) req_.remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  if (s_.h.prepare) s_.h.prepare(req_);
  ++served_;
  keep_alive_ = parser_->keep_alive() && served_ < std::max(s_.o.keep_alive_max, 1) && !s_.stopping;

  static const std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (!methods.count(req_.method)) return refuse(405, "Method " + req_.method + " is not allowed.", "method_not_allowed");
  const bool has_length = req_.header_count("Content-Length") > 0, has_te = req_.header_count("Transfer-Encoding") > 0;
  if (has_te) {
    const std::string te = req_.header("Transfer-Encoding");
    if (!iequals(te, "chunked") || req_.header_count("Transfer-Encoding") != 1)
      return refuse(501, "Transfer-Encoding '" + te + "' is not supported (only 'chunked').", "unsupported_encoding");
    if (has_length) return refuse(400, "A request may not have both Content-Length and Transfer-Encoding.", "invalid_request");
  }
  uint64_t length = 0;
  if (has_length) {
    const std::string cl = req_.header("Content-Length");
    const bool digits = !cl.empty() && cl.size() <= 19 && cl.find_first_not_of("0123456789") == std::string::npos &&
                        req_.header_count("Content-Length") == 1;
    if (!digits) return refuse(400, "Invalid Content-Length header: '" + cl + "'.", "invalid_request");
    length = std::stoull(cl);
    if (length > s_.o.max_body_bytes)
      return refuse(413, "The request body (" + cl + " bytes) is larger than the server's limit of " +
                             std::to_string(s_.o.max_body_bytes) + " bytes (autolm serve --max-body-bytes).",
                    "request_too_large");
  }
  const bool has_body = has_te || length > 0;
  if (!s_.h.takes_body || !s_.h.takes_body(req_)) {
    if (has_body) {  // answered without reading the body; the connection then closes
      keep_alive_ = false;
      linger_ = true;
    }
    return dispatch();
  }
  if (!has_te && !has_length)
    return refuse(411, "A request body needs a Content-Length or Transfer-Encoding: chunked header.", "length_required");
  if (req_.header("Content-Type").rfind("multipart/form-data", 0) == 0)
    return refuse(415, "multipart/form-data bodies are not accepted; send JSON with Content-Type: application/json.",
                  "unsupported_media_type");
  // Bodies being read at once share max_body_memory: a chunked body reserves the most it may be.
  const uint64_t need = has_te ? s_.o.max_body_bytes : length;
  if (s_.body_memory.fetch_add(need) + need > s_.o.max_body_memory) {
    s_.body_memory -= need;
    return refuse(503, "The server is reading too many request bodies at once; retry shortly.", "server_busy");
  }
  reserved_ = need;
  parser_->body_limit(s_.o.max_body_bytes);
  body_deadline_ = Clock::now() + seconds(s_.o.body_timeout_s);
  if (iequals(req_.header("Expect"), "100-continue") && !parser_->is_done()) {
    auto msg = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
    arm(body_deadline_);
    return net::async_write(sock_, net::buffer(*msg), [self = shared_from_this(), msg](beast::error_code ec, size_t) {
      if (self->outcome(ec)) return self->close();
      self->read_body();
    });
  }
  read_body();
}

void Session::read_body() {
  if (parser_->is_done()) {
    req_.body = parser_->release().body();
    return dispatch();
  }
  arm(std::min(body_deadline_, Clock::now() + seconds(s_.o.read_timeout_s)));
  http::async_read_some(sock_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if ((ec = self->outcome(ec))) return self->fail(ec, false);
    self->read_body();
  });
}

void Session::dispatch() {
  disarm();
  auto ex = new_exchange();
  try {
    s_.h.handle(ex);
  } catch (const std::exception& e) {
    ex->respond(s_.h.error(500, std::string("Internal error: ") + e.what(), ""));
  } catch (...) {
    ex->respond(s_.h.error(500, "Internal error.", ""));
  }
  release_body_memory();  // the handler parsed the body (or copied it along)
}

void Session::refuse(int status, const std::string& message, const std::string& code) {
  // Part of the request may still be unread: the answer says Connection: close, and what the
  // client still sends is read and dropped for a while before closing (linger_then_close).
  keep_alive_ = false;
  linger_ = true;
  disarm();
  auto ex = new_exchange();
  HttpResponse r = s_.h.error(status, message, code);
  r.close = true;
  ex->respond(std::move(r));
}

std::shared_ptr<Session::Ex> Session::new_exchange() {
  ++s_.exchanges;
  in_exchange_ = true;
  cur_ = std::make_shared<HttpRequest>(std::move(req_));
  auto ex = std::make_shared<Ex>(shared_from_this(), cur_, keep_alive_ && !linger_);
  ex_ = ex;
  return ex;
}

void Session::send(std::string data, bool final, bool close_after) {
  if (closed_) return;
  if (close_after) keep_alive_ = false;
  out_.push_back(std::move(data));
  if (final) final_queued_ = true;
  pump();
}

void Session::pump() {
  if (writing_ || closed_) return;
  if (out_.empty()) {
    if (final_queued_) finish_response();
    return;
  }
  writing_ = true;
  arm(Clock::now() + seconds(s_.o.write_timeout_s));
  net::async_write(sock_, net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->writing_ = false;
    if (self->outcome(ec)) return self->close();
    self->bytes_ += n;
    self->out_.pop_front();
    if (auto ex = self->ex_.lock()) ex->written(n);
    self->pump();
  });
}

void Session::finish_response() {
  final_queued_ = false;
  disarm();
  if (s_.h.done) {
    try {
      s_.h.done(cur_ ? *cur_ : req_, status_, bytes_, std::chrono::duration<double>(Clock::now() - started_).count());
    } catch (...) {
    }
  }
  end_exchange();
  cur_.reset();
  if (linger_) return linger_then_close();
  read_request(false);
}

// Stops sending, then reads and drops what the client still sends — at most 4 × max_body_bytes
// + 1 MiB, for at most 5 s — so that closing with unread bytes does not reset the connection
// before the client read the answer (clients send the whole body before reading).
void Session::linger_then_close() {
  beast::error_code ec;
  sock_.shutdown(tcp::socket::shutdown_send, ec);
  const auto until = Clock::now() + seconds(std::min(5.0, s_.o.body_timeout_s));
  auto drained = std::make_shared<uint64_t>(0);
  auto sink = std::make_shared<std::array<char, 16384>>();
  auto step = std::make_shared<std::function<void()>>();
  *step = [self = shared_from_this(), until, drained, sink, weak_step = std::weak_ptr(step)] {
    if (self->closed_ || *drained > 4 * self->s_.o.max_body_bytes + (1u << 20) || self->s_.stopping) return self->close();
    self->arm(until);
    self->sock_.async_read_some(net::buffer(*sink), [self, drained, step = weak_step.lock()](beast::error_code ec, size_t n) {
      if (self->outcome(ec) || !step) return self->close();
      *drained += n;
      (*step)();
    });
  };
  (*step)();
}

void Session::close() {
  if (closed_) return;
  closed_ = true;
  if (auto ex = ex_.lock()) ex->kill();  // a worker writing to it sees the client gone
  end_exchange();
  beast::error_code ec;
  disarm();
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
}

void HttpServer::Impl::refuse_connection(tcp::socket& sock) {
  HttpRequest none;
  HttpResponse r = h.error(503, "The server has too many open connections (autolm serve --max-connections); retry shortly.",
                           "too_many_connections");
  r.headers.emplace_back("Retry-After", "1");
  const std::string data = serialize_head(r, none, false, false) + r.body;
  (void)::send(sock.native_handle(), data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  beast::error_code ec;
  sock.shutdown(tcp::socket::shutdown_both, ec);
  sock.close(ec);
}

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket sock) {
    if (!acceptor.is_open() || stopping) return;
    if (ec) {
      // Out of file descriptors (or another transient failure): wait a little instead of spinning.
      auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds(50));
      return timer->async_wait([this, timer](beast::error_code) {
        if (acceptor.is_open() && !stopping) accept();
      });
    }
    if (connections.load() >= o.max_connections) {
      refuse_connection(sock);
    } else {
      // No Nagle delay for SSE pieces; a bounded send buffer, so that a client that stops reading
      // is noticed (write_timeout_s) before megabytes of events pile up in the kernel.
      beast::error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
      sock.set_option(net::socket_base::send_buffer_size(256 << 10), ignored);
      std::make_shared<Session>(*this, std::move(sock))->start();
    }
    accept();
  });
}

HttpServer::HttpServer(HttpOptions options, HttpHandlers handlers)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handlers))) {}

HttpServer::~HttpServer() { stop(); }

int HttpServer::start() {
  Impl& s = *impl_;
  if (s.started) return s.acceptor.local_endpoint().port();
  const std::string where = s.o.host + ":" + std::to_string(s.o.port);
  beast::error_code ec;
  const auto address = net::ip::make_address(s.o.host, ec);
  if (ec) throw Error(ErrorKind::kInvalidInput, "server: cannot bind " + where + " (not an IP address: " + ec.message() + ")");
  const tcp::endpoint ep(address, static_cast<unsigned short>(s.o.port));
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(std::max(s.o.backlog, 1), ec);
  if (ec) throw Error(ErrorKind::kInvalidInput, "server: cannot bind " + where + " (" + ec.message() + ")");
  s.started = true;
  s.accept();
  for (int i = 0; i < std::max(s.o.io_threads, 1); ++i)
    s.threads.emplace_back([&s] {
      // A client that goes away makes writes fail with EPIPE; SIGPIPE must not end the process.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      while (true) {
        try {
          s.ioc.run();
          return;
        } catch (...) {
          // A handler threw: that connection is lost, the loop goes on.
        }
      }
    });
  return s.acceptor.local_endpoint().port();
}

void HttpServer::stop_accepting() {
  Impl& s = *impl_;
  if (!s.started) return;
  std::promise<void> done;
  net::post(s.acceptor.get_executor(), [&s, &done] {
    beast::error_code ec;
    s.acceptor.close(ec);
    done.set_value();
  });
  done.get_future().wait_for(std::chrono::seconds(2));
}

int HttpServer::open_exchanges() const { return impl_->exchanges.load(); }
int HttpServer::connections() const { return impl_->connections.load(); }
bool HttpServer::running() const { return impl_->started && !impl_->stopping; }

void HttpServer::stop() {
  if (!impl_) return;
  Impl& s = *impl_;
  if (!s.started || s.stopping.exchange(true)) return;
  stop_accepting();
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(s.sessions_mu);
    for (auto& [p, w] : s.sessions)
      if (auto sp = w.lock()) open.push_back(std::move(sp));
  }
  for (auto& sp : open) net::post(sp->executor(), [sp] { sp->stop(); });
  open.clear();
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (s.connections.load() > 0 && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

}  // namespace autolm::server
