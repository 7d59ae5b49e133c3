// The OpenAI-compatible HTTP server behind `amusd serve`:
//   POST /v1/completions, POST /v1/chat/completions (JSON or Server-Sent Events with "stream": true),
//   GET /v1/models, GET /health, GET /metrics (Prometheus text).
// Generations go through a fair FIFO Scheduler (one at a time, a bounded queue, 503 beyond it). A client that
// disconnects, while queued or generating, has its job removed or stopped. Errors are OpenAI-style JSON bodies.
//
// Threads: the caller of serve() accepts connections; a pool of HTTP threads (queue_max + 16) runs handlers, each
// waiting on its job; the scheduler's worker generates. shutdown() may be called from any thread (the signal
// watcher of `amusd serve`).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/chat_prompt.h"

namespace amusd::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                                   // 0: any free port (bind() returns it)
  std::string model_id;                              // the model's name in responses and /v1/models
  std::string default_strategy = "ar";               // when a request names none
  size_t queue_max = 16;                             // waiting generations beyond the running one; more get 503
  size_t max_body_bytes = size_t(1) << 20;           // larger request bodies get 413
  int64_t default_max_tokens = 256;                  // when a request gives no max_tokens
  int64_t n_ctx = 2048;                              // context size of every strategy (prompt + generation)
  std::chrono::milliseconds shutdown_grace{10000};   // how long shutdown() lets the running generation finish
  bool verbose = false;                              // a line on stderr per request
};

class Server {
 public:
  // strategies: name -> "" for those that can run (already created in `engine`), or why not ("needs a draft model").
  // `engine` and `chat` must outlive the Server.
  Server(engine::Engine& engine, const ChatPrompt& chat, ServerOptions options,
         std::map<std::string, std::string> strategies);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port. Throws Error when it cannot bind.
  int bind();
  // Serves until shutdown() has drained and stopped the server. Requires bind().
  void serve();
  // Stops taking generations (new ones get 503), cancels the queued ones, lets the running one finish for up to
  // shutdown_grace (then cancels it), waits briefly for responses in flight to be written, and makes serve()
  // return. Thread-safe; later calls do nothing.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace amusd::server
