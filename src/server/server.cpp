#include "server/server.h"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.h"
#include "server/api_error.h"
#include "server/connection.h"
#include "server/metrics.h"
#include "server/request.h"
#include "server/responses.h"
#include "server/scheduler.h"

namespace amusd::server {

using json = nlohmann::ordered_json;

namespace {

// How often a waiting request checks its job and its connection.
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// How long shutdown() waits for responses in flight to be written after the generations ended.
constexpr auto kFlushTimeout = std::chrono::seconds(5);
// HTTP threads besides one per queued or running generation: health checks, metrics, errors, idle keep-alive.
constexpr size_t kSpareHttpThreads = 16;
// Status for a request whose client went away before the answer (as nginx logs it); only metrics see it.
constexpr int kClientClosed = 499;

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.status(), error_body(e)); }

// The route a metric is counted under (unknown paths share one label, so clients cannot grow the label set).
std::string_view route_name(const std::string& path) {
  for (std::string_view r : {"/v1/completions", "/v1/chat/completions", "/v1/models", "/health", "/metrics"})
    if (path == r) return r;
  return "other";
}

std::string hex(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(x));
  return buf;
}

// A message for an error status httplib produced itself (no route, body too large, malformed HTTP).
std::string http_error_message(const httplib::Request& req, int status, size_t max_body) {
  switch (status) {
    case 404: return str_cat("no such endpoint: ", req.method, " ", req.path);
    case 413: return str_cat("the request body is larger than the limit of ", max_body, " bytes");
    case 400: return "malformed HTTP request";
    default: return str_cat("HTTP error ", status);
  }
}

}  // namespace

// ---- state shared by the handlers -------------------------------------------------------------------------------

struct Server::Impl {
  Impl(engine::Engine& e, const ChatPrompt& c, ServerOptions o, std::map<std::string, std::string> s)
      : engine(e), chat(c), opt(std::move(o)), strategies(std::move(s)),
        scheduler(engine, SchedulerOptions{opt.queue_max}, metrics), id_salt(std::random_device{}()) {
    limits.n_ctx = opt.n_ctx;
    limits.n_vocab = engine.target().tokenizer().n_vocab();
    limits.default_max_tokens = opt.default_max_tokens;
  }

  void install_routes();
  void handle_generation(Endpoint endpoint, const httplib::Request& req, httplib::Response& res);
  std::vector<int32_t> prompt_tokens(const GenerationRequest& r) const;
  std::string check_strategy(const std::string& requested) const;
  void respond_when_done(const std::shared_ptr<Job>& job, const ResponseContext& ctx, const ConnectionWatch& watch,
                         httplib::Response& res);
  void start_stream(std::shared_ptr<Job> job, ResponseContext ctx, ConnectionWatch watch, bool include_usage,
                    std::shared_ptr<void> active, httplib::Response& res);
  // Counts a generation response in flight until the returned token is destroyed (for shutdown()).
  std::shared_ptr<void> track_active();

  engine::Engine& engine;
  const ChatPrompt& chat;
  const ServerOptions opt;
  const std::map<std::string, std::string> strategies;
  RequestLimits limits;
  Metrics metrics;
  Scheduler scheduler;
  httplib::Server http;
  const uint64_t id_salt;              // makes response ids differ between runs
  std::atomic<uint64_t> next_id{0};
  std::atomic<bool> draining{false};   // shutdown() began: generation requests get 503
  std::atomic<bool> serving{false};    // serve() is inside the listen loop (or about to enter it)

  std::mutex active_mu;
  std::condition_variable active_cv;
  int active = 0;                      // generation responses not yet fully written
  std::once_flag shutdown_once;
};

std::shared_ptr<void> Server::Impl::track_active() {
  {
    std::lock_guard lk(active_mu);
    ++active;
  }
  return std::shared_ptr<void>(nullptr, [this](void*) {
    {
      std::lock_guard lk(active_mu);
      --active;
    }
    active_cv.notify_all();
  });
}

// ---- generation requests ----------------------------------------------------------------------------------------

std::string Server::Impl::check_strategy(const std::string& requested) const {
  const std::string name = requested.empty() ? opt.default_strategy : requested;
  const auto it = strategies.find(name);
  if (it == strategies.end()) throw ApiError(400, str_cat("unknown strategy '", name, "'"), "strategy");
  if (!it->second.empty())
    throw ApiError(400, str_cat("strategy '", name, "' is not available on this server: ", it->second), "strategy");
  return name;
}

std::vector<int32_t> Server::Impl::prompt_tokens(const GenerationRequest& r) const {
  std::vector<int32_t> ids;
  if (r.endpoint == Endpoint::ChatCompletions) ids = chat.tokens(r.messages);
  else if (r.prompt_tokens) ids = *r.prompt_tokens;
  else ids = engine.target().tokenizer().encode(*r.prompt_text, /*add_special=*/true);
  if (ids.empty()) throw ApiError(400, "the prompt is empty (no tokens)", "prompt");
  if (int64_t(ids.size()) >= opt.n_ctx)
    throw ApiError(400,
                   str_cat("the prompt has ", ids.size(), " tokens but the context holds ", opt.n_ctx,
                           " (prompt and generated tokens together)"),
                   r.endpoint == Endpoint::ChatCompletions ? "messages" : "prompt", "context_length_exceeded");
  return ids;
}

void Server::Impl::handle_generation(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<void> active = track_active();
  if (draining) throw ApiError(503, "the server is shutting down");
  GenerationRequest r = parse_request(endpoint, req.body, limits);
  const std::string strategy = check_strategy(r.strategy);
  std::vector<int32_t> prompt = prompt_tokens(r);
  if (!r.seed_given) r.options.sampling.seed = std::random_device{}();

  auto job = std::make_shared<Job>(std::move(prompt), r.options, strategy);
  switch (scheduler.submit(job)) {
    case Scheduler::Admission::Queued: break;
    case Scheduler::Admission::QueueFull:
      throw ApiError(503, str_cat("the server is busy: ", opt.queue_max, " requests are already waiting; retry later"),
                     "", "queue_full");
    case Scheduler::Admission::ShuttingDown: throw ApiError(503, "the server is shutting down");
  }
  const bool chat = endpoint == Endpoint::ChatCompletions;
  ResponseContext ctx{endpoint, str_cat(chat ? "chatcmpl-" : "cmpl-", hex(id_salt), "-", hex(next_id++)),
                      int64_t(std::time(nullptr)), opt.model_id};
  ConnectionWatch watch(req.remote_addr, req.remote_port, req.local_port);
  if (r.stream) start_stream(std::move(job), std::move(ctx), watch, r.include_usage, std::move(active), res);
  else respond_when_done(job, ctx, watch, res);
}

void Server::Impl::respond_when_done(const std::shared_ptr<Job>& job, const ResponseContext& ctx,
                                     const ConnectionWatch& watch, httplib::Response& res) {
  for (;;) {
    const Job::Update u = job->wait_update(kPollInterval);
    switch (u.state) {
      case Job::State::Finished:
        if (job->result().reason == engine::StopReason::Cancelled)
          throw ApiError(503, "the server is shutting down; the generation was cancelled");
        send_json(res, 200, completion_response(ctx, job->result()));
        return;
      case Job::State::Failed: throw ApiError(500, str_cat("generation failed: ", job->error()));
      case Job::State::Cancelled: throw ApiError(503, "the server is shutting down; the request was cancelled");
      case Job::State::Queued:
      case Job::State::Running: break;
    }
    if (watch.closed()) {
      scheduler.cancel(job);
      send_json(res, kClientClosed, error_body(kClientClosed, "the client closed the connection"));
      return;
    }
  }
}

// ---- streaming ----------------------------------------------------------------------------------------------------

namespace {

// One streamed response: each call of pump() waits briefly for the job, writes what is new as SSE chunks, and after
// the end writes the final chunk (finish_reason, usage, speculative) and "data: [DONE]".
struct Stream {
  Scheduler& scheduler;
  std::shared_ptr<Job> job;
  ResponseContext ctx;
  ConnectionWatch watch;
  bool include_usage = false;
  std::shared_ptr<void> active;  // counted in flight until the response is destroyed
  bool role_sent = false;

  // False ends the response early (the client is gone, or a write failed); the job is then cancelled.
  bool pump(httplib::DataSink& sink) {
    const auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
    if (ctx.endpoint == Endpoint::ChatCompletions && !role_sent) {
      role_sent = true;
      if (!send(sse_event(stream_chunk(ctx, "", "", nullptr, /*role_only=*/true)))) return client_gone();
    }
    const Job::Update u = job->wait_update(kPollInterval);
    if (!u.text.empty() && !send(sse_event(stream_chunk(ctx, u.text, "")))) return client_gone();
    switch (u.state) {
      case Job::State::Finished: {
        const engine::Result& r = job->result();
        if (r.reason == engine::StopReason::Cancelled) {
          send(sse_event(error_body(503, "the server is shutting down; the generation was cancelled")));
        } else {
          send(sse_event(stream_chunk(ctx, "", finish_reason(r.reason), &r)));
          if (include_usage) send(sse_event(usage_chunk(ctx, r)));
        }
        return finish(sink);
      }
      case Job::State::Failed:
        send(sse_event(error_body(500, str_cat("generation failed: ", job->error()))));
        return finish(sink);
      case Job::State::Cancelled:
        send(sse_event(error_body(503, "the server is shutting down; the request was cancelled")));
        return finish(sink);
      case Job::State::Queued:
      case Job::State::Running: break;
    }
    if (watch.closed()) return client_gone();
    return true;
  }

  bool finish(httplib::DataSink& sink) {
    sink.write(kSseDone.data(), kSseDone.size());
    sink.done();
    return true;
  }

  bool client_gone() {
    scheduler.cancel(job);
    return false;
  }
};

}  // namespace

void Server::Impl::start_stream(std::shared_ptr<Job> job, ResponseContext ctx, ConnectionWatch watch,
                                bool include_usage, std::shared_ptr<void> active, httplib::Response& res) {
  auto stream = std::make_shared<Stream>(
      Stream{scheduler, std::move(job), std::move(ctx), watch, include_usage, std::move(active)});
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream", [stream](size_t, httplib::DataSink& sink) { return stream->pump(sink); },
      // Runs when the response is destroyed; without success (the client left, a write failed) the job must stop.
      [stream](bool success) {
        if (!success) stream->scheduler.cancel(stream->job);
      });
}

// ---- routes -----------------------------------------------------------------------------------------------------

namespace {

// Runs a handler, turning exceptions into OpenAI-style error responses (a bad request must never end the server).
template <class F>
httplib::Server::Handler guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const std::bad_alloc&) {
      send_json(res, 500, error_body(500, "out of memory"));
    } catch (const std::exception& e) {
      send_json(res, 500, error_body(500, str_cat("internal error: ", e.what())));
    }
  };
}

}  // namespace

void Server::Impl::install_routes() {
  http.Post("/v1/completions", guarded([this](const httplib::Request& req, httplib::Response& res) {
              handle_generation(Endpoint::Completions, req, res);
            }));
  http.Post("/v1/chat/completions", guarded([this](const httplib::Request& req, httplib::Response& res) {
              handle_generation(Endpoint::ChatCompletions, req, res);
            }));
  http.Get("/v1/models", guarded([this](const httplib::Request&, httplib::Response& res) {
             json model = {{"id", opt.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "amusd"}};
             send_json(res, 200, {{"object", "list"}, {"data", json::array({model})}});
           }));
  http.Get("/health", guarded([this](const httplib::Request&, httplib::Response& res) {
             const bool ok = !draining;
             send_json(res, ok ? 200 : 503,
                       {{"status", ok ? "ok" : "shutting_down"},
                        {"queued", scheduler.queued()},
                        {"running", scheduler.running()}});
           }));
  http.Get("/metrics", guarded([this](const httplib::Request&, httplib::Response& res) {
             res.set_content(metrics.render(scheduler.queued(), scheduler.running()),
                             "text/plain; version=0.0.4; charset=utf-8");
           }));

  // Errors httplib answers itself (404, 413, malformed requests) get a JSON body too.
  http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    send_json(res, res.status, error_body(res.status, http_error_message(req, res.status, opt.max_body_bytes)));
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_json(res, 500, error_body(500, "internal error"));
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics.count_request(route_name(req.path), res.status);
    if (opt.verbose)
      std::fprintf(stderr, "amusd serve: %s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
  });
  http.set_payload_max_length(opt.max_body_bytes);
  const size_t threads = opt.queue_max + 1 + kSpareHttpThreads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

// ---- Server -------------------------------------------------------------------------------------------------------

Server::Server(engine::Engine& engine, const ChatPrompt& chat, ServerOptions options,
               std::map<std::string, std::string> strategies)
    : impl_(std::make_unique<Impl>(engine, chat, std::move(options), std::move(strategies))) {
  AMUSD_CHECK(impl_->strategies.count(impl_->opt.default_strategy) &&
                  impl_->strategies.at(impl_->opt.default_strategy).empty(),
              "the default strategy '", impl_->opt.default_strategy, "' cannot run");
  impl_->install_routes();
}

Server::~Server() {
  shutdown();
}

int Server::bind() {
  const ServerOptions& o = impl_->opt;
  int port = o.port;
  if (port == 0) port = impl_->http.bind_to_any_port(o.host);
  else if (!impl_->http.bind_to_port(o.host, port)) port = -1;
  AMUSD_CHECK(port > 0, "cannot listen on ", o.host, ":", o.port, " (address in use, or not allowed?)");
  return port;
}

void Server::serve() {
  impl_->serving = true;
  if (!impl_->draining) impl_->http.listen_after_bind();
  impl_->serving = false;
}

void Server::shutdown() {
  Impl& s = *impl_;
  std::call_once(s.shutdown_once, [&s] {
    s.draining = true;
    s.scheduler.shutdown(s.opt.shutdown_grace);
    {
      std::unique_lock lk(s.active_mu);
      s.active_cv.wait_for(lk, kFlushTimeout, [&] { return s.active == 0; });
    }
    // stop() does nothing before the listen loop has started: repeat until serve() is inside it or not serving.
    for (;;) {
      const bool was_running = s.http.is_running();
      s.http.stop();
      if (was_running || !s.serving) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
}

}  // namespace amusd::server
