// A fair FIFO scheduler for generations. A strategy object (its devices' thread groups and KV caches) serves one
// generation at a time, so one worker thread runs the queued jobs one after another, in arrival order; each
// generation starts from an empty KV cache (the strategy prefills the prompt anew), so outputs never mix. Requests
// beyond `queue_max` waiting jobs are refused at once (the HTTP layer answers 503).
//
// A Job is shared between the request's thread (which waits for its text) and the worker (which produces it);
// cancel() removes a queued job or stops a running generation through its std::stop_token.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/session.h"
#include "server/metrics.h"

namespace amusd::server {

using Clock = std::chrono::steady_clock;

class Job {
 public:
  enum class State { Queued, Running, Finished, Failed, Cancelled };

  // prompt: token ids, BOS included as wanted; strategy: "ar", "sd" or "amusd" (created at startup).
  Job(std::vector<int32_t> prompt, engine::GenerateOptions options, std::string strategy);

  struct Update {
    std::string text;   // text produced since the previous wait_update()
    State state;
  };
  // Waits until there is new text, the job has ended, or `timeout` passed. Returns (and hands over) the new text.
  Update wait_update(std::chrono::milliseconds timeout);

  // Valid once wait_update() returned Finished (result) or Failed (error).
  const engine::Result& result() const { return result_; }
  const std::string& error() const { return error_; }
  const std::string& strategy() const { return strategy_; }
  int64_t n_prompt() const { return int64_t(prompt_.size()); }

 private:
  friend class Scheduler;
  friend class JobStreamer;
  void set_state(State s);
  void append_text(std::string_view s);

  const std::vector<int32_t> prompt_;
  const engine::GenerateOptions options_;
  const std::string strategy_;
  const Clock::time_point arrived_ = Clock::now();
  std::stop_source stop_;

  std::mutex mu_;                // guards everything below
  std::condition_variable cv_;   // signalled on new text and on state changes
  State state_ = State::Queued;
  std::string pending_;          // text not yet handed to the request's thread
  engine::Result result_;        // written by the worker before state_ becomes Finished
  std::string error_;            // written by the worker before state_ becomes Failed
};

struct SchedulerOptions {
  size_t queue_max = 16;  // jobs that may wait (besides the running one)
};

class Scheduler {
 public:
  // Starts the worker thread. The strategies jobs name must already exist in `engine` (Engine::strategy was
  // called for them at startup), so the worker never creates devices.
  Scheduler(engine::Engine& engine, SchedulerOptions options, Metrics& metrics);
  ~Scheduler();  // shutdown(0) if still running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  enum class Admission { Queued, QueueFull, ShuttingDown };
  // Queues `job` behind the others unless the queue holds queue_max jobs or shutdown() began.
  Admission submit(const std::shared_ptr<Job>& job);

  // Removes a queued job (it becomes Cancelled) or asks its running generation to stop (it then finishes with
  // StopReason::Cancelled). Does nothing for an ended job. Thread-safe, idempotent.
  void cancel(const std::shared_ptr<Job>& job);

  // Stops accepting jobs and cancels the queued ones; lets the running generation finish for up to `grace`, then
  // stops it; joins the worker. Thread-safe; later calls return at once.
  void shutdown(std::chrono::milliseconds grace);

  size_t queued() const;
  size_t running() const;

 private:
  void work();
  void run(Job& job);
  void record(const Job& job, Clock::time_point started, const char* outcome);

  engine::Engine& engine_;
  const SchedulerOptions options_;
  Metrics& metrics_;

  mutable std::mutex mu_;             // guards the fields below
  std::condition_variable cv_;        // new job or stopping
  std::condition_variable idle_cv_;   // the running job ended
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> running_;
  bool accepting_ = true;
  bool stopping_ = false;

  std::mutex join_mu_;                // serialises shutdown()
  std::thread worker_;
};

}  // namespace amusd::server
