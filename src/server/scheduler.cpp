#include "server/scheduler.h"

#include <algorithm>
#include <cstdio>

namespace amusd::server {

// ---- Job -----------------------------------------------------------------------------------------------------

Job::Job(std::vector<int32_t> prompt, engine::GenerateOptions options, std::string strategy)
    : prompt_(std::move(prompt)), options_(std::move(options)), strategy_(std::move(strategy)) {}

Job::Update Job::wait_update(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  const auto has_news = [&] {
    return !pending_.empty() || (state_ != State::Queued && state_ != State::Running);
  };
  cv_.wait_for(lk, timeout, has_news);
  Update u{std::move(pending_), state_};
  pending_.clear();
  return u;
}

void Job::set_state(State s) {
  {
    std::lock_guard lk(mu_);
    state_ = s;
  }
  cv_.notify_all();
}

void Job::append_text(std::string_view s) {
  {
    std::lock_guard lk(mu_);
    pending_.append(s);
  }
  cv_.notify_all();
}

// Hands the generated text to the job as it becomes final.
class JobStreamer final : public engine::Streamer {
 public:
  explicit JobStreamer(Job& job) : job_(job) {}
  void on_text(std::string_view s) override { job_.append_text(s); }

 private:
  Job& job_;
};

// ---- Scheduler ------------------------------------------------------------------------------------------------

Scheduler::Scheduler(engine::Engine& engine, SchedulerOptions options, Metrics& metrics)
    : engine_(engine), options_(options), metrics_(metrics), worker_([this] { work(); }) {}

Scheduler::~Scheduler() { shutdown(std::chrono::milliseconds(0)); }

Scheduler::Admission Scheduler::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard lk(mu_);
    if (!accepting_) return Admission::ShuttingDown;
    if (queue_.size() >= options_.queue_max) return Admission::QueueFull;
    queue_.push_back(job);
  }
  cv_.notify_one();
  return Admission::Queued;
}

void Scheduler::cancel(const std::shared_ptr<Job>& job) {
  bool removed = false;
  {
    std::lock_guard lk(mu_);
    const auto it = std::find(queue_.begin(), queue_.end(), job);
    if (it != queue_.end()) {
      queue_.erase(it);
      removed = true;
    }
  }
  if (removed) job->set_state(Job::State::Cancelled);
  else job->stop_.request_stop();  // running: the strategy returns promptly; ended: no effect
}

void Scheduler::shutdown(std::chrono::milliseconds grace) {
  std::lock_guard join_lk(join_mu_);
  if (!worker_.joinable()) return;
  std::deque<std::shared_ptr<Job>> dropped;
  {
    std::unique_lock lk(mu_);
    accepting_ = false;
    dropped.swap(queue_);
    if (!idle_cv_.wait_for(lk, grace, [&] { return !running_; })) running_->stop_.request_stop();
    stopping_ = true;
  }
  for (auto& job : dropped) job->set_state(Job::State::Cancelled);
  cv_.notify_all();
  worker_.join();
}

size_t Scheduler::queued() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

size_t Scheduler::running() const {
  std::lock_guard lk(mu_);
  return running_ ? 1 : 0;
}

void Scheduler::work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      running_ = job;
    }
    run(*job);
    {
      std::lock_guard lk(mu_);
      running_.reset();
    }
    idle_cv_.notify_all();
  }
}

void Scheduler::run(Job& job) {
  const auto started = Clock::now();
  job.set_state(Job::State::Running);
  JobStreamer streamer(job);
  try {
    engine::Session session(engine_.target().tokenizer(), engine_.strategy(job.strategy_));
    engine::Result r = session.generate(job.prompt_, job.options_, &streamer, job.stop_.get_token());
    {
      std::lock_guard lk(job.mu_);
      job.result_ = std::move(r);
    }
    const bool cancelled = job.result_.reason == engine::StopReason::Cancelled;
    record(job, started, cancelled ? "cancelled" : "finished");
    job.set_state(Job::State::Finished);
  } catch (const std::exception& e) {
    {
      std::lock_guard lk(job.mu_);
      job.error_ = e.what();
    }
    std::fprintf(stderr, "amusd serve: generation failed: %s\n", e.what());
    record(job, started, "failed");
    job.set_state(Job::State::Failed);
  }
}

void Scheduler::record(const Job& job, Clock::time_point started, const char* outcome) {
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  const decode::Stats& s = job.result_.stats;
  GenerationRecord g;
  g.strategy = job.strategy_;
  g.outcome = outcome;
  g.prompt_tokens = job.n_prompt();
  g.generated_tokens = int64_t(job.result_.tokens.size());
  g.drafted = s.n_drafted;
  g.accepted = s.n_accepted;
  g.queue_wait_s = seconds(started - job.arrived_);
  if (g.generated_tokens > 0) g.ttft_s = seconds(started - job.arrived_) + s.first_token_ms / 1000.0;
  if (g.generated_tokens > 1) g.time_per_token_s = s.generate_ms / 1000.0 / double(g.generated_tokens - 1);
  metrics_.record_generation(g);
}

}  // namespace amusd::server
