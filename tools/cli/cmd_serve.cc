// `autolm serve`: an OpenAI-compatible HTTP server (src/server, docs/SERVER.md) over one model
// folder, until SIGINT / SIGTERM.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "autolm/tokenizer.h"
#include "common.h"
#include "server/server.h"

namespace autolm::cli {

namespace {

std::atomic<bool> g_serve_stop{false};
extern "C" void on_serve_signal(int) { g_serve_stop = true; }

struct ServeOpts {
  std::string dir, cls, dtype = "auto", host = "127.0.0.1", model_name;
  int port = 8080, parallel = 1;
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
  cmd->add_option("--model-name", o->model_name, "model id in /v1/models and responses (default: the folder's name)");
  cmd->callback([o, &rc] {
    auto model = load_with_class(o->dir, o->cls, o->dtype);
    auto tok = AutoTokenizer::from_pretrained(o->dir);
    server::ServerOptions options;
    options.model = model;
    options.tokenizer = tok;
    options.model_name = o->model_name;
    options.host = o->host;
    options.port = o->port;
    options.parallel = o->parallel;
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
