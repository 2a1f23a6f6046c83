// autolm_server's HTTP/1.1 layer: an event-driven server (Boost.Beast / Asio, Debian's
// libboost-dev) that reads requests on a few I/O threads and hands each one to the server as an
// Exchange, which may be answered at once (on the I/O thread) or later from any thread (a
// generation worker), whole or streamed. Idle and slow connections cost a socket and a timer,
// never a thread, so they cannot delay other requests (docs/SERVER.md "HTTP layer").
//
// Every size and wait a client controls is bounded here: request line + headers
// (max_header_bytes, header_timeout_s), body after chunked decoding (max_body_bytes,
// body_timeout_s), the next byte (read_timeout_s), a response's total wait for the client to
// read (write_timeout_s), idle keep-alive (keep_alive_timeout_s, keep_alive_max), connections
// at once (max_connections), bytes of bodies being read at once (max_body_memory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autolm::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 0;                      // 0 = any free port
  int io_threads = 2;                // event loops
  int backlog = 4096;                // listen() backlog (the kernel caps it at net.core.somaxconn)
  int max_connections = 4096;        // open at once; past it a new connection gets 503 and is closed
  uint64_t max_body_bytes = 8u << 20;
  uint64_t max_header_bytes = 64u << 10;
  uint64_t max_body_memory = 512u << 20;  // request bodies being read at once, all connections
  double header_timeout_s = 10, body_timeout_s = 60, read_timeout_s = 10, write_timeout_s = 10;
  double keep_alive_timeout_s = 5;
  int keep_alive_max = 100;
};

struct HttpRequest {
  std::string method, target, path;  // path: target without its query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "ip:port"
  // Set by HttpHandlers::prepare: the request's id (for logs) and headers every response to it carries.
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> response_headers;

  // Case-insensitive; the first value, or "" when absent.
  std::string header(std::string_view name) const;
  size_t header_count(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool close = false;  // Connection: close after this response
};

// One request being answered. respond() or start_stream() … end() exactly once, from any thread.
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual HttpRequest& request() = 0;
  virtual void respond(HttpResponse response) = 0;
  // Sends the status and headers of a chunked response (its body is ignored); write() then
  // sends pieces. write() blocks while the client is behind (its total wait is bounded by
  // write_timeout_s) and is false once the client is gone, too slow, or the server stops.
  virtual bool start_stream(HttpResponse head) = 0;
  virtual bool write(std::string_view data) = 0;
  virtual void end() = 0;
  // The client closed its side of the connection (checked without blocking).
  virtual bool client_gone() = 0;
};

struct HttpHandlers {
  // On an I/O thread once the request line and headers are in, before any refusal: assigns
  // request_id and response_headers.
  std::function<void(HttpRequest&)> prepare;
  // Whether the request's route reads a body. A request with a body whose route takes none is
  // answered without reading it, and its connection closes.
  std::function<bool(const HttpRequest&)> takes_body;
  // On an I/O thread; must not block (long work goes to another thread with the Exchange).
  std::function<void(std::shared_ptr<Exchange>)> handle;
  // The response for a refusal made by this layer (status, message, OpenAI error code).
  std::function<HttpResponse(int status, const std::string& message, const std::string& code)> error;
  // After each response went out (or was abandoned): for the access log and metrics.
  std::function<void(const HttpRequest&, int status, uint64_t bytes, double seconds)> done;
};

class HttpServer {
 public:
  HttpServer(HttpOptions options, HttpHandlers handlers);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (Error(kInvalidInput) naming the address when it cannot), then serves on
  // io_threads threads; returns the bound port.
  int start();
  // Closes the listening socket: new connections are refused by the kernel; open ones go on,
  // and each closes after its current response.
  void stop_accepting();
  // Exchanges not yet finished (requests being answered).
  int open_exchanges() const;
  int connections() const;
  // Closes every connection and joins the I/O threads. Idempotent.
  void stop();
  bool running() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace autolm::server
