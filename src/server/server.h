// autolm_server: an OpenAI-compatible HTTP server (cpp-httplib) over one loaded model and its
// tokenizer. /health, /v1/models, /v1/completions, /v1/chat/completions; see docs/SERVER.md.
// The Model and Tokenizer are shared read-only by every request thread; at most
// ServerOptions::parallel requests generate at once (the others wait for a slot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "autolm/model.h"
#include "autolm/tokenizer.h"
#include "server/openai.h"

namespace autolm::server {

struct ServerOptions {
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  // `--draft-model`: an assistant (same vocabulary) for assisted generation of one-sequence
  // greedy / sampling requests; null = none.
  std::shared_ptr<const Model> draft_model;
  std::string model_name;               // "id" in /v1/models and responses; "" = the folder's basename
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0 = any free port (see Server::port())
  int parallel = 1;                     // requests generating at once
  int threads = 0;                      // HTTP worker threads; 0 = max(8, 2 * parallel + 4)

  // Clients are untrusted: every size and every wait is bounded (docs/SERVER.md "Limits").
  uint64_t max_body_bytes = 8u << 20;     // request body after chunked decoding; larger: 413
  uint64_t max_header_bytes = 64u << 10;  // request line + headers; larger: 431
  double header_timeout_s = 10;           // to receive the request line and headers; then 408
  double body_timeout_s = 60;             // to receive the whole body; then 408
  double read_timeout_s = 10;             // longest wait for the next byte of a request
  double write_timeout_s = 10;            // a response's total wait for the client to take its bytes
  double keep_alive_timeout_s = 5;        // an idle kept-alive connection is closed after this
  int keep_alive_max = 100;               // requests per connection
  RequestLimits limits;                   // per-request JSON and generation limits (openai.h)

  // Tests: called on the request's thread while it holds its generation slot, just before
  // generate(); what it throws is reported like a failure of generate() itself.
  std::function<void(const Job&)> before_generate;
};

// Counters for monitoring and tests.
struct ServerStats {
  uint64_t requests = 0;         // HTTP requests routed to a handler
  uint64_t generations = 0;      // generate() runs that finished (completed or cancelled)
  uint64_t cancelled = 0;        // streams stopped because the client went away (or stop())
  uint64_t timeouts = 0;         // requests given up because the client sent too slowly (408)
  uint64_t oversized = 0;        // requests refused for their size (413, 431)
  int active = 0;                // generating now
  int waiting = 0;               // waiting for a generation slot
};

// Throws Error(kInvalidInput) naming the flag and value of the first option out of range
// (parallel, port, every limit). The Server constructor calls it; the CLI calls it before
// loading the model.
void validate_options(const ServerOptions& options);

class Server {
 public:
  // Validates the options (model and tokenizer present, parallel ≥ 1) and prepares the routes;
  // the chat template is parsed here once. Throws autolm::Error(kInvalidInput) on bad options.
  explicit Server(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 = any free port) and serves on a background thread; returns the
  // bound port. Throws Error(kInvalidInput) if the address cannot be bound.
  int start();
  int port() const;
  const std::string& model_name() const;
  // Stops accepting connections, makes running generations stop after their current step,
  // and joins the server threads. Idempotent.
  void stop();
  bool running() const;
  ServerStats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace autolm::server
