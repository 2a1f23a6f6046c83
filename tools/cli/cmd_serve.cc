// `autolm serve`: an OpenAI-compatible HTTP server (src/server, docs/SERVER.md) over one model
// folder. Binds first (/health answers 503 "loading"), then loads the model; SIGINT / SIGTERM
// drain: stop accepting, let running requests finish up to --drain-timeout, then exit 0.
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "autolm/tokenizer.h"
#include "common.h"
#include "server/server.h"

namespace autolm::cli {

namespace {

std::atomic<bool> g_serve_stop{false};
extern "C" void on_serve_signal(int) { g_serve_stop = true; }

struct ServeOpts {
  std::string dir, cls, dtype = "auto", host = "127.0.0.1", model_name, hub_id, draft_dir;
  int port = 8080, parallel = 8, prefill_chunk = 512;
  bool quiet = false, no_cache = false, no_batching = false;
  std::string kv_budget;  // bytes, with an optional unit (2GiB)
  server::ServerOptions limits;  // only the limit fields are read
  // Signed, so that "-1" is reported as -1 rather than as 18446744073709551615.
  int64_t max_body_bytes = int64_t(server::ServerOptions{}.max_body_bytes);
  int64_t max_request_memory_mib = int64_t(server::RequestLimits{}.max_request_memory >> 20);
};

// --kv-budget: bytes, optionally with a unit (K/KiB, M/MiB, G/GiB, T/TiB: powers of 1024; KB, MB,
// GB, TB: powers of 1000), e.g. "2GiB", "1500MB", "4294967296".
uint64_t parse_bytes(const std::string& flag, const std::string& text) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (...) {
    end = 0;
  }
  std::string unit = text.substr(end);
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  const std::pair<const char*, double> units[] = {{"", 1.0},          {"B", 1.0},           {"K", 1024.0},
                                                  {"KIB", 1024.0},    {"KB", 1e3},          {"M", 1048576.0},
                                                  {"MIB", 1048576.0}, {"MB", 1e6},          {"G", 1073741824.0},
                                                  {"GIB", 1073741824.0}, {"GB", 1e9},       {"T", 1099511627776.0},
                                                  {"TIB", 1099511627776.0}, {"TB", 1e12}};
  if (end > 0 && std::isfinite(v) && v > 0)
    for (const auto& [name, scale] : units)
      if (unit == name && v * scale >= 1 && v * scale <= 1e18) return uint64_t(v * scale);
  throw Error(ErrorKind::kInvalidInput, flag + ": \"" + text + "\" (a positive size in bytes, e.g. 2GiB, 512MiB, 1500MB)");
}

}  // namespace

void add_serve_command(CLI::App& app, int& rc) {
  auto o = std::make_shared<ServeOpts>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions");
  cmd->add_option("dir", o->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id(&o->hub_id));
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "port (default 8080; 0 = any free port, printed at start)");
  add_load_options(cmd, o->cls, o->dtype, o->no_cache);
  cmd->add_option("--max-batch,--parallel", o->parallel,
                  "requests generating at once, their decode steps batched into one forward pass (default 8; the others wait in the queue)");
  cmd->add_option("--kv-budget", o->kv_budget,
                  "memory all running requests may use together (KV cache and scratch, e.g. 2GiB): a request that does not fit "
                  "waits, one that never could is refused (default: --max-batch x --max-request-memory)");
  cmd->add_option("--prefill-chunk", o->prefill_chunk,
                  "prompt tokens run per turn between batched decode steps (default 512; 0 = whole prompts)");
  cmd->add_flag("--no-batching", o->no_batching, "run each request's generation alone (no continuous batching)");
  cmd->add_option("--draft-model", o->draft_dir,
                  "assistant model (same vocabulary) drafting tokens for one-sequence greedy / sampling requests")
      ->transform(model_dir_or_id());
  auto& S = o->limits;
  auto shown = [](auto v) {
    std::ostringstream out;  // 10, not 10.000000
    out << v;
    return " (default " + out.str() + ")";
  };
  cmd->add_option("--max-queue", S.max_queue, "requests waiting for a worker; past it 429 with Retry-After" + shown(S.max_queue));
  cmd->add_option("--request-timeout", S.request_timeout_s,
                  "seconds after its arrival a request's generation is stopped" + shown(S.request_timeout_s));
  cmd->add_option("--drain-timeout", S.drain_timeout_s,
                  "on SIGTERM, seconds running requests get to finish before streams are ended" + shown(S.drain_timeout_s));
  cmd->add_option("--api-key", S.api_key, "require 'Authorization: Bearer KEY' on /v1/* (default: none; also $AUTOLM_API_KEY)");
  cmd->add_option("--cors-origin", S.cors_origin, "allow browser requests from this origin ('*' or a comma-separated list; default: no CORS)");
  cmd->add_flag("--quiet", o->quiet, "no access log (one line per request on stderr)");
  cmd->add_option("--model-name", o->model_name, "model id in /v1/models and responses (default: the Hub model id org/name, else the folder's name)");
  // Limits on untrusted clients (docs/SERVER.md "Limits"); defaults from ServerOptions / RequestLimits.
  auto& L = o->limits;
  auto& R = L.limits;
  auto limit = [&](const char* flag, auto& value, const char* what) {
    std::ostringstream shown;  // 10, not 10.000000
    shown << value;
    cmd->add_option(flag, value, std::string(what) + " (default " + shown.str() + ")")->group("Limits");
  };
  limit("--threads", L.threads, "HTTP I/O threads (event loops); 0 = 2");
  limit("--max-connections", L.max_connections, "open connections; past it 503 and close");
  limit("--backlog", L.backlog, "listen backlog (capped by net.core.somaxconn)");
  limit("--max-body-bytes", o->max_body_bytes, "largest request body in bytes, chunked or not");
  limit("--header-timeout", L.header_timeout_s, "seconds to receive a request's line and headers");
  limit("--body-timeout", L.body_timeout_s, "seconds to receive a request's body");
  limit("--read-timeout", L.read_timeout_s, "seconds to wait for the next byte of a request");
  limit("--write-timeout", L.write_timeout_s, "seconds in all a response may wait for the client to read");
  limit("--keep-alive-timeout", L.keep_alive_timeout_s, "seconds an idle connection is kept open");
  limit("--keep-alive-max", L.keep_alive_max, "requests per connection");
  limit("--max-json-depth", R.json_max_depth, "JSON nesting of a request");
  limit("--max-messages", R.max_messages, "chat messages per request");
  limit("--max-prompt-tokens", R.max_prompt_tokens, "prompt tokens per request, all prompts together");
  limit("--max-tokens", R.max_tokens, "largest max_tokens / max_completion_tokens");
  limit("--max-n", R.max_n, "largest n (and best_of)");
  limit("--max-beams", R.max_beams, "largest num_beams");
  limit("--max-sequences", R.max_sequences, "prompts x n x num_beams per request");
  limit("--max-stop", R.max_stop, "stop sequences per request");
  limit("--max-stop-bytes", R.max_stop_bytes, "bytes of one stop sequence");
  limit("--max-token-list", R.max_token_list, "entries of logit_bias and token ids in sequence_bias, bad_words_ids, ...");
  limit("--max-request-memory", o->max_request_memory_mib, "estimated MiB one generation may use");
  cmd->callback([o, &rc] {
    server::ServerOptions options;
    options.model_name = o->model_name.empty() ? o->hub_id : o->model_name;  // an id names itself, as vLLM's default
    options.host = o->host;
    options.port = o->port;
    options.parallel = o->parallel;
    options.batching = !o->no_batching;
    options.prefill_chunk = o->prefill_chunk;
    if (!o->kv_budget.empty()) options.kv_budget = parse_bytes("--kv-budget", o->kv_budget);
    options.threads = o->limits.threads;
    options.max_queue = o->limits.max_queue;
    options.request_timeout_s = o->limits.request_timeout_s;
    options.drain_timeout_s = o->limits.drain_timeout_s;
    options.max_connections = o->limits.max_connections;
    options.backlog = o->limits.backlog;
    options.api_key = o->limits.api_key;
    if (options.api_key.empty())
      if (const char* key = std::getenv("AUTOLM_API_KEY")) options.api_key = key;
    options.cors_origin = o->limits.cors_origin;
    if (!o->quiet) {
      auto mu = std::make_shared<std::mutex>();
      options.access_log = [mu](const std::string& line) {
        std::lock_guard lock(*mu);
        std::cerr << line << '\n';
      };
    }
    if (o->max_body_bytes < 1 || o->max_body_bytes > (int64_t(1) << 40))
      throw Error(ErrorKind::kInvalidInput, "--max-body-bytes: " + std::to_string(o->max_body_bytes) + " (1 to 2^40)");
    options.max_body_bytes = uint64_t(o->max_body_bytes);
    options.header_timeout_s = o->limits.header_timeout_s;
    options.body_timeout_s = o->limits.body_timeout_s;
    options.read_timeout_s = o->limits.read_timeout_s;
    options.write_timeout_s = o->limits.write_timeout_s;
    options.keep_alive_timeout_s = o->limits.keep_alive_timeout_s;
    options.keep_alive_max = o->limits.keep_alive_max;
    options.limits = o->limits.limits;
    if (o->max_request_memory_mib < 1 || o->max_request_memory_mib > (int64_t(1) << 40))
      throw Error(ErrorKind::kInvalidInput,
                  "--max-request-memory: " + std::to_string(o->max_request_memory_mib) + " (1 to 2^40 MiB)");
    options.limits.max_request_memory = uint64_t(o->max_request_memory_mib) << 20;
    server::validate_options(options);
    // Idle keep-alive connections cost a file descriptor each: allow as many as the hard limit.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = nofile.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &nofile);
    }

    g_serve_stop = false;
    struct sigaction sa {};
    sa.sa_handler = on_serve_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int {}, old_term {};
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the process

    // Bind first, then load: /health answers 503 {"status":"loading"} meanwhile.
    server::Server srv(options);
    const int port = srv.start();
    std::cout << "autolm serve: listening on http://" << o->host << ":" << port << "  (loading " << o->dir << ", max batch "
              << o->parallel << ")" << std::endl;
    auto model = load_with_class(o->dir, o->cls, o->dtype, o->no_cache);
    std::shared_ptr<const Model> draft;
    if (!o->draft_dir.empty()) {
      draft = load_with_class(o->draft_dir, "", o->dtype, o->no_cache);
      const ModelConfig &m = model->config(), &d = draft->config();
      if (d.family != m.family || d.vocab_size != m.vocab_size)
        throw Error(ErrorKind::kInvalidInput, "--draft-model " + o->draft_dir + ": a " + family_name(d.family) +
                                                  " model of vocab_size " + std::to_string(d.vocab_size) +
                                                  " cannot draft for a " + family_name(m.family) + " model of vocab_size " +
                                                  std::to_string(m.vocab_size));
    }
    srv.load(std::move(model), AutoTokenizer::from_pretrained(o->dir), std::move(draft));
    std::cerr << "autolm serve: ready (model \"" << srv.model_name() << "\")" << std::endl;
    while (!g_serve_stop.load() && srv.running()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool signalled = g_serve_stop.load();
    std::cerr << "autolm serve: draining (up to " << options.drain_timeout_s << " s)" << std::endl;
    srv.drain(options.drain_timeout_s);
    std::cerr << "autolm serve: stopped" << std::endl;
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    if (!signalled) throw Error(ErrorKind::kInternal, "serve: the HTTP server stopped unexpectedly");
    rc = 0;
  });
}

}  // namespace autolm::cli
