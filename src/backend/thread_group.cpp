#include "backend/thread_group.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AMUSD_PAUSE() _mm_pause()
#else
#define AMUSD_PAUSE() std::this_thread::yield()
#endif

namespace amusd::backend {

// ---------------------------------------------------------------------------------------------------------
// CPU lists

std::vector<int> available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

std::vector<int> parse_cpu_list(const std::string& spec) {
  std::set<int> cpus;
  size_t i = 0;
  auto number = [&]() -> int {
    size_t start = i;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) ++i;
    AMUSD_CHECK(i > start && i - start < 5, "invalid CPU list '", spec, "': expected a CPU number at position ", start);
    return std::stoi(spec.substr(start, i - start));
  };
  AMUSD_CHECK(!spec.empty(), "empty CPU list");
  while (i < spec.size()) {
    const int a = number();
    int b = a;
    if (i < spec.size() && spec[i] == '-') {
      ++i;
      b = number();
      AMUSD_CHECK(b >= a, "invalid CPU range ", a, "-", b, " in '", spec, "'");
    }
    for (int c = a; c <= b; ++c) cpus.insert(c);
    if (i < spec.size()) {
      AMUSD_CHECK(spec[i] == ',', "invalid CPU list '", spec, "': unexpected '", spec[i], "'");
      ++i;
    }
  }
  const std::vector<int> avail = available_cpus();
  for (int c : cpus)
    AMUSD_CHECK(std::find(avail.begin(), avail.end(), c) != avail.end(), "CPU ", c, " in '", spec,
                "' is not available to this process (available: ", format_cpu_list(avail), ")");
  return {cpus.begin(), cpus.end()};
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Waiting: spin briefly (the common case inside a forward pass is a wait of a few microseconds), then sleep on a
// futex so an idle device does not burn a core another device needs.

namespace {

constexpr int kSpinIterations = 20000;  // roughly 20-100 us of pause instructions

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

bool pin_thread(pthread_t t, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(t, sizeof(set), &set) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// WaitWord. The waker's store and the sleeper's registration are both seq_cst, so either the sleeper sees the new
// value before sleeping or the waker sees the sleeper and wakes it; FUTEX_WAIT itself re-checks the value.

void WaitWord::wake() {
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(value_);
}

void WaitWord::store(uint32_t v) {
  value_.store(v, std::memory_order_seq_cst);
  wake();
}

uint32_t WaitWord::add(uint32_t d) {
  const uint32_t old = value_.fetch_add(d, std::memory_order_seq_cst);
  wake();
  return old;
}

uint32_t WaitWord::sub(uint32_t d) {
  const uint32_t old = value_.fetch_sub(d, std::memory_order_seq_cst);
  wake();
  return old;
}

void WaitWord::wait_while_equal(uint32_t v) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (value_.load(std::memory_order_acquire) != v) return;
    AMUSD_PAUSE();
  }
  while (value_.load(std::memory_order_acquire) == v) {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (value_.load(std::memory_order_seq_cst) == v) futex_wait(value_, v);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

// ---------------------------------------------------------------------------------------------------------
// ScopedPin

ScopedPin::ScopedPin(int cpu) : previous_(available_cpus()) { pin_thread(pthread_self(), cpu); }

ScopedPin::~ScopedPin() {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : previous_) CPU_SET(c, &set);
  if (!previous_.empty()) pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// ---------------------------------------------------------------------------------------------------------
// ThreadCtx

void ThreadCtx::barrier() {
  if (nth > 1) group_->barrier_wait();
}

std::pair<int64_t, int64_t> ThreadCtx::range(int64_t n) const {
  const int64_t chunk = (n + nth - 1) / nth;
  const int64_t begin = std::min<int64_t>(n, chunk * ith);
  return {begin, std::min<int64_t>(n, begin + chunk)};
}

// ---------------------------------------------------------------------------------------------------------
// ThreadGroup

ThreadGroup::ThreadGroup(std::vector<int> cpus, int n_threads) : cpus_(std::move(cpus)), n_threads_(n_threads) {
  AMUSD_CHECK(!cpus_.empty(), "a thread group needs at least one CPU");
  AMUSD_CHECK(n_threads_ >= 1 && n_threads_ <= 1024, "invalid thread count ", n_threads_);
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) {
    workers_.emplace_back([this, i] { worker_main(i); });
    const int cpu = cpus_[i % cpus_.size()];
    if (!pin_thread(workers_.back().native_handle(), cpu)) {
      stop_ = true;
      generation_.add(1);
      for (auto& w : workers_) w.join();
      fail("cannot pin a thread to CPU ", cpu, ": ", std::strerror(errno));
    }
  }
}

ThreadGroup::~ThreadGroup() {
  stop_.store(true, std::memory_order_release);
  generation_.add(1);
  for (auto& w : workers_) w.join();
}

bool ThreadGroup::bind_caller() const { return pin_thread(pthread_self(), cpus_[0]); }

void ThreadGroup::run_job(Job job) {
  ThreadCtx tc;
  tc.ith = 0;
  tc.nth = n_threads_;
  tc.group_ = this;
  if (n_threads_ == 1) {
    job.fn(job.ctx, tc);
    return;
  }
  job_ = job;
  pending_.store(uint32_t(n_threads_ - 1));
  generation_.add(1);
  job.fn(job.ctx, tc);
  for (uint32_t p; (p = pending_.load()) != 0;) pending_.wait_while_equal(p);
}

void ThreadGroup::worker_main(int ith) {
  uint32_t seen = 0;
  ThreadCtx tc;
  tc.ith = ith;
  tc.nth = n_threads_;
  tc.group_ = this;
  for (;;) {
    generation_.wait_while_equal(seen);
    seen = generation_.load();
    if (stop_.load(std::memory_order_acquire)) return;
    job_.fn(job_.ctx, tc);
    pending_.sub(1);
  }
}

void ThreadGroup::barrier_wait() {
  const uint32_t phase = barrier_phase_.load();
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) == uint32_t(n_threads_ - 1)) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_phase_.add(1);
    return;
  }
  barrier_phase_.wait_while_equal(phase);
}

}  // namespace amusd::backend
