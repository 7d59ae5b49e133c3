// amusd serve: an OpenAI-compatible HTTP server (completions and chat completions, streamed or not) generating with
// ar, sd or amusd. SIGINT / SIGTERM drain it and exit 0.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "args.h"
#include "commands.h"
#include "engine_args.h"
#include "core/error.h"
#include "engine/engine.h"
#include "server/chat_prompt.h"
#include "server/server.h"

namespace amusd::app {

namespace {

// The signals the watcher thread waits for: SIGINT / SIGTERM from outside, SIGUSR1 from main() to end the watcher
// when the server stopped for another reason. They are blocked in every thread (the mask is inherited), so they
// are only ever received by sigwait() in the watcher: no asynchronous signal handler runs at all.
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

// Waits for SIGINT / SIGTERM and shuts the server down; returns on SIGUSR1.
void watch_signals(server::Server& srv) {
  const sigset_t set = watched_signals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1) return;
    std::fprintf(stderr, "amusd serve: %s received, finishing requests in flight and stopping\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.shutdown();
    return;
  }
}

// Context size every strategy runs with: the option, else what model::Context picks (the training context, at most
// 4096), the smaller of target and draft.
int64_t context_size(const engine::Engine& engine) {
  const int64_t opt = engine.options().ctx.n_ctx;
  const auto ctx_of = [&](const model::Model& m) {
    return opt > 0 ? opt : std::min<int64_t>(m.hparams().n_ctx_train, 4096);
  };
  int64_t n = ctx_of(engine.target());
  if (engine.draft()) n = std::min(n, ctx_of(*engine.draft()));
  return n;
}

// Creates every strategy the loaded models allow, so that the worker never creates devices and requests for one
// that cannot run get a clear 400. Returns name -> "" (ready) or the reason it cannot run.
std::map<std::string, std::string> create_strategies(engine::Engine& engine) {
  std::map<std::string, std::string> out;
  for (const char* name : {"ar", "sd", "amusd"}) {
    if (std::string_view(name) != "ar" && !engine.draft()) {
      out[name] = "it needs a draft model (start the server with -md DRAFT.gguf)";
      continue;
    }
    try {
      engine.strategy(name);
      out[name] = "";
    } catch (const Error& e) {
      out[name] = e.what();
    }
  }
  return out;
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the mask.
  const sigset_t signals = watched_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that disconnects must not end the process

  engine::EngineOptions eo;
  server::ServerOptions so;
  std::string kv_type = "f16", chat_template;
  int64_t queue_max = int64_t(so.queue_max), max_body = int64_t(so.max_body_bytes), grace_ms = 10000;
  int32_t port = so.port;
  bool verbose = false;

  ArgParser args("amusd serve -m MODEL.gguf [-md DRAFT.gguf --strategy ar|sd|amusd] [--host H --port P] [options]",
                 "OpenAI-compatible HTTP server: POST /v1/completions, /v1/chat/completions (\"stream\": true for\n"
                 "Server-Sent Events), GET /v1/models, /health, /metrics. A request may choose its \"strategy\".\n"
                 "Generations run one at a time in arrival order; waiting requests beyond --queue-max get 503.\n"
                 "SIGINT / SIGTERM: stop taking requests, let the running generation finish (cancel it after\n"
                 "--shutdown-grace), exit 0.");
  args.option({"-m", "--model"}, "FILE", "target model (GGUF)", &eo.target_path);
  args.option({"-md", "--model-draft"}, "FILE", "draft model (GGUF) for sd and amusd", &eo.draft_path);
  args.option({"--strategy"}, "NAME", "default strategy: ar (default), sd or amusd", &so.default_strategy);
  args.option({"--host"}, "ADDR", "address to listen on (default 127.0.0.1)", &so.host);
  args.option({"--port"}, "N", "port (default 8080; 0 = any free port, printed at startup)", &port);
  args.option({"--alias"}, "NAME", "model name in responses and /v1/models (default: the file name)", &so.model_id);
  args.option({"--chat-template"}, "NAME",
              "built-in chat template instead of the model's: chatml, llama3, mistral, phi3, gemma2, deepseek-r1",
              &chat_template);
  args.option({"--queue-max"}, "N", "requests that may wait for the worker (default 16); more get 503", &queue_max);
  args.option({"--max-body"}, "BYTES", "largest request body (default 1048576); larger get 413", &max_body);
  args.option({"--default-max-tokens"}, "N", "max_tokens when a request gives none (default 256)",
              &so.default_max_tokens);
  args.option({"--shutdown-grace"}, "MS", "on SIGTERM, how long the running generation may finish (default 10000)",
              &grace_ms);
  add_engine_options(args, eo, kv_type);
  args.flag({"-v", "--verbose"}, "log every request on stderr", &verbose);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  AMUSD_CHECK(!eo.target_path.empty(), "missing -m MODEL.gguf (see --help)");
  AMUSD_CHECK(engine::is_strategy_name(so.default_strategy), "unknown strategy '", so.default_strategy,
              "' (choose ar, sd or amusd)");
  AMUSD_CHECK(so.default_strategy == "ar" || !eo.draft_path.empty(), "--strategy ", so.default_strategy,
              " needs a draft model (-md FILE)");
  AMUSD_CHECK(port >= 0 && port <= 65535, "--port must be in 0..65535, got ", port);
  AMUSD_CHECK(queue_max >= 0 && queue_max <= 4096, "--queue-max must be in 0..4096, got ", queue_max);
  AMUSD_CHECK(max_body >= 1024 && max_body <= (int64_t(1) << 30), "--max-body must be in 1024..2^30, got ", max_body);
  AMUSD_CHECK(so.default_max_tokens >= 1, "--default-max-tokens must be >= 1, got ", so.default_max_tokens);
  AMUSD_CHECK(grace_ms >= 0, "--shutdown-grace must be >= 0, got ", grace_ms);
  finish_engine_options(kv_type, eo);
  so.port = port;
  so.queue_max = size_t(queue_max);
  so.max_body_bytes = size_t(max_body);
  so.shutdown_grace = std::chrono::milliseconds(grace_ms);
  so.verbose = verbose;
  if (so.model_id.empty()) so.model_id = std::filesystem::path(eo.target_path).stem().string();

  engine::Engine engine(eo);
  std::map<std::string, std::string> strategies = create_strategies(engine);
  so.n_ctx = context_size(engine);
  const server::ChatPrompt chat(engine.target(), chat_template);
  server::Server srv(engine, chat, so, strategies);
  const int bound = srv.bind();

  std::fprintf(stderr, "amusd serve: model %s (%s), context %lld, default strategy %s, chat template: %s\n",
               so.model_id.c_str(), eo.target_path.c_str(), static_cast<long long>(so.n_ctx),
               so.default_strategy.c_str(), chat.describe().c_str());
  if (!chat.available())
    std::fprintf(stderr, "amusd serve: chat requests will fail: %s\n", chat.unavailable_reason().c_str());
  for (const auto& [name, why] : strategies)
    std::fprintf(stderr, "amusd serve: strategy %-5s %s\n", name.c_str(),
                 why.empty() ? engine.describe(name).c_str() : ("unavailable: " + why).c_str());
  std::printf("amusd serve: listening on http://%s:%d\n", so.host.c_str(), bound);
  std::fflush(stdout);

  std::thread watcher([&srv] { watch_signals(srv); });
  srv.serve();
  pthread_kill(watcher.native_handle(), SIGUSR1);  // ends the watcher if no signal came (after one, it is ignored)
  watcher.join();
  std::fprintf(stderr, "amusd serve: stopped\n");
  return 0;
}

}  // namespace amusd::app
