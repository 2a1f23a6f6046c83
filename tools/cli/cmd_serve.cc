// `autolm serve`: an OpenAI-compatible HTTP server (src/server, docs/SERVER.md) over one model
// folder, until SIGINT / SIGTERM.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

#include "autolm/tokenizer.h"
#include "common.h"
#include "server/server.h"

namespace autolm::cli {

namespace {

std::atomic<bool> g_serve_stop{false};
extern "C" void on_serve_signal(int) { g_serve_stop = true; }

struct ServeOpts {
  std::string dir, cls, dtype = "auto", host = "127.0.0.1", model_name, draft_dir;
  int port = 8080, parallel = 1;
  server::ServerOptions limits;  // only the limit fields are read
  // Signed, so that "-1" is reported as -1 rather than as 18446744073709551615.
  int64_t max_body_bytes = int64_t(server::ServerOptions{}.max_body_bytes);
  int64_t max_request_memory_mib = int64_t(server::RequestLimits{}.max_request_memory >> 20);
};

}  // namespace

void add_serve_command(CLI::App& app, int& rc) {
  auto o = std::make_shared<ServeOpts>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions");
  cmd->add_option("dir", o->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id());
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "port (default 8080; 0 = any free port, printed at start)");
  add_load_options(cmd, o->cls, o->dtype);
  cmd->add_option("--parallel", o->parallel, "requests generating at once (default 1; the others wait)");
  cmd->add_option("--draft-model", o->draft_dir,
                  "assistant model (same vocabulary) drafting tokens for one-sequence greedy / sampling requests")
      ->transform(model_dir_or_id());
  cmd->add_option("--model-name", o->model_name, "model id in /v1/models and responses (default: the folder's name)");
  // Limits on untrusted clients (docs/SERVER.md "Limits"); defaults from ServerOptions / RequestLimits.
  auto& L = o->limits;
  auto& R = L.limits;
  auto limit = [&](const char* flag, auto& value, const char* what) {
    std::ostringstream shown;  // 10, not 10.000000
    shown << value;
    cmd->add_option(flag, value, std::string(what) + " (default " + shown.str() + ")")->group("Limits");
  };
  limit("--threads", L.threads, "HTTP worker threads; 0 = max(8, 2 * parallel + 4)");
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
    options.model_name = o->model_name;
    options.host = o->host;
    options.port = o->port;
    options.parallel = o->parallel;
    options.threads = o->limits.threads;
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
    // Flags are checked before the (slow) model load; Server checks them again.
    server::ServerOptions check = options;
    check.model = nullptr;
    server::validate_options(check);
    options.model = load_with_class(o->dir, o->cls, o->dtype);
    options.tokenizer = AutoTokenizer::from_pretrained(o->dir);
    if (!o->draft_dir.empty()) {
      options.draft_model = load_with_class(o->draft_dir, "", o->dtype);
      const ModelConfig &m = options.model->config(), &d = options.draft_model->config();
      if (d.family != m.family || d.vocab_size != m.vocab_size)
        throw Error(ErrorKind::kInvalidInput, "--draft-model " + o->draft_dir + ": a " + family_name(d.family) +
                                                  " model of vocab_size " + std::to_string(d.vocab_size) +
                                                  " cannot draft for a " + family_name(m.family) + " model of vocab_size " +
                                                  std::to_string(m.vocab_size));
    }
    server::Server srv(std::move(options));

    g_serve_stop = false;
    struct sigaction sa {};
    sa.sa_handler = on_serve_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int {}, old_term {};
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the process

    const int port = srv.start();
    std::cout << "autolm serve: listening on http://" << o->host << ":" << port << " (model \"" << srv.model_name()
              << "\", parallel " << o->parallel << ")" << std::endl;
    while (!g_serve_stop.load() && srv.running()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool signalled = g_serve_stop.load();
    std::cerr << "autolm serve: shutting down\n";
    srv.stop();
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    if (!signalled) throw Error(ErrorKind::kInternal, "serve: the HTTP server stopped unexpectedly");
    rc = 0;
  });
}

}  // namespace autolm::cli
