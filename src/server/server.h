// autolm_server: an OpenAI-compatible HTTP server over one model and its tokenizer: /health,
// /metrics, /v1/models, /v1/completions, /v1/chat/completions; see docs/SERVER.md.
// HTTP is event-driven (http.h); generation runs on ServerOptions::parallel workers fed by a
// queue of at most max_queue waiting requests (scheduler.h), past which requests get 429; their
// decode steps are batched across requests (batcher.h).
// The Model and Tokenizer are shared read-only by every worker. The server may start before
// the model is loaded (/health answers 503 "loading" until load()).
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
  // Both, or neither: then the server answers 503 "loading" until Server::load().
  std::shared_ptr<const Model> model;
  std::shared_ptr<const Tokenizer> tokenizer;
  // `--draft-model`: an assistant (same vocabulary) for assisted generation of one-sequence
  // greedy / sampling requests; null = none.
  std::shared_ptr<const Model> draft_model;
  std::string model_name;               // "id" in /v1/models and responses; "" = the folder's basename
  std::string host = "127.0.0.1";
  int port = 8080;                      // 0 = any free port (see Server::port())
  // Requests generating at once (`--max-batch`, alias `--parallel`): generation workers, and with
  // continuous batching the most requests whose decode steps share one forward pass.
  int parallel = 1;
  // Continuous batching (batcher.h; decoder-only models): running requests step together in one
  // batched forward pass. false: each request's generate() alone (`--no-batching`).
  bool batching = true;
  int prefill_chunk = 512;              // prompt tokens run per turn between batched steps (0 = whole prompts)
  // Estimated bytes of every running request together (KV cache, scratch; `--kv-budget`): a
  // request that does not fit waits, one that never could is refused (400). 0 = parallel ×
  // limits.max_request_memory.
  uint64_t kv_budget = 0;
  int max_queue = 64;                   // requests waiting for a worker; past it 429 + Retry-After
  double request_timeout_s = 600;       // a request's generation stops this long after it arrived
  double drain_timeout_s = 30;          // drain(): running requests get this long to finish
  int threads = 0;                      // HTTP I/O threads (event loops); 0 = 2
  int max_connections = 4096;           // open connections; past it 503 and close
  int backlog = 4096;                   // listen() backlog (capped by net.core.somaxconn)
  std::string api_key;                  // non-empty: /v1/* needs "Authorization: Bearer <key>"
  std::string cors_origin;              // non-empty: CORS for this origin ("*", or a comma-separated list)
  // One line per request (the access log), from the I/O threads; empty = none.
  std::function<void(const std::string&)> access_log;

  // Clients are untrusted: every size and every wait is bounded (docs/SERVER.md "Limits").
  uint64_t max_body_bytes = 8u << 20;     // request body after chunked decoding; larger: 413
  uint64_t max_header_bytes = 64u << 10;  // request line + headers; larger: 431
  double header_timeout_s = 10;           // to receive the request line and headers; then 408
  double body_timeout_s = 60;             // to receive the whole body; then 408
  double read_timeout_s = 10;             // longest wait for the next byte of a request
  double write_timeout_s = 10;            // a response's total wait for the client to take its bytes
  double keep_alive_timeout_s = 5;        // an idle kept-alive connection is closed after this
  int keep_alive_max = 100;               // requests per connection
  uint64_t max_body_memory = 512u << 20;  // bodies being read at once, all connections; past it 503
  RequestLimits limits;                   // per-request JSON and generation limits (openai.h)

  // Tests: called on the request's worker thread, just before
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
  uint64_t rejected = 0;         // refused with 429: the waiting queue was full
  uint64_t deadlines = 0;        // generations stopped by --request-timeout
  int active = 0;                // generating now
  uint64_t batched_steps = 0;    // batched forward passes (continuous batching)
  uint64_t batched_rows = 0;     // rows over all of them (÷ batched_steps = the mean batch)
  int waiting = 0;               // waiting for a generation worker
  int connections = 0;           // open HTTP connections
};

// Throws Error(kInvalidInput) naming the flag and value of the first option out of range
// (parallel, port, every limit). The Server constructor calls it; the CLI calls it before
// loading the model.
void validate_options(const ServerOptions& options);

class Server {
 public:
  // Validates the options and prepares the routes; with a model, the chat template is parsed
  // here once. Throws autolm::Error(kInvalidInput) on bad options.
  explicit Server(ServerOptions options);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 = any free port) and serves on a background thread; returns the
  // bound port. Throws Error(kInvalidInput) if the address cannot be bound.
  int start();
  // Makes a server started without a model ready (bind first, load after). Throws
  // Error(kInvalidInput) when it already has one, or what reading the chat template throws.
  // `draft_model` (or ServerOptions::draft_model when null) drafts for assisted generation.
  void load(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tokenizer,
            std::shared_ptr<const Model> draft_model = nullptr);
  bool ready() const;
  int port() const;
  std::string model_name() const;
  // Graceful shutdown: stops accepting connections, /health answers 503 "draining", new
  // requests on open connections get 503; running and waiting requests get `timeout_s` to
  // finish, then stop() (streams still running end with a final chunk and [DONE]).
  void drain(double timeout_s);
  // Stops accepting connections, makes running generations stop after their current step
  // (a stream ends with a final chunk, finish_reason "length", and [DONE]), answers waiting
  // requests 503, and joins the server threads. Idempotent.
  void stop();
  bool running() const;
  ServerStats stats() const;
  // The /metrics text (Prometheus exposition format).
  std::string metrics() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace autolm::server
