// A group of threads pinned to a set of CPU cores. All per-device execution state lives in such objects, so two
// models can run at the same time on disjoint core sets without touching each other.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace amusd::backend {

// Parses a CPU list such as "0-3", "0,2,5-7". Throws Error on syntax errors or CPUs this process may not use.
std::vector<int> parse_cpu_list(const std::string& spec);
// The CPUs this process may run on (sched_getaffinity).
std::vector<int> available_cpus();
std::string format_cpu_list(const std::vector<int>& cpus);  // "0-1"

// Per-thread view passed to the function run() executes.
class ThreadCtx {
 public:
  int ith = 0;  // this thread's index, 0 = the thread that called run()
  int nth = 1;  // number of threads taking part
  // Waits until every thread of the group has reached this barrier (spins briefly, then sleeps).
  void barrier();
  // [begin, end) of n items for this thread, split in contiguous chunks.
  std::pair<int64_t, int64_t> range(int64_t n) const;

 private:
  friend class ThreadGroup;
  class ThreadGroup* group_ = nullptr;
};

// A 32-bit word threads wait on: spin briefly, then sleep on a futex. Wakers only make a syscall when someone sleeps.
class WaitWord {
 public:
  uint32_t load() const { return value_.load(std::memory_order_acquire); }
  void store(uint32_t v);              // sets the value and wakes sleepers
  uint32_t add(uint32_t d);            // adds, wakes sleepers, returns the previous value
  uint32_t sub(uint32_t d);            // subtracts, wakes sleepers, returns the previous value
  void wait_while_equal(uint32_t v);   // returns once load() != v

 private:
  void wake();
  std::atomic<uint32_t> value_{0};
  std::atomic<uint32_t> sleepers_{0};
};

// Function pointer + context: run() does not allocate.
struct Job {
  void (*fn)(void* ctx, ThreadCtx& tc) = nullptr;
  void* ctx = nullptr;
};

// Pins the calling thread to one CPU for its lifetime and restores the previous affinity afterwards.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu);
  ~ScopedPin();
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  std::vector<int> previous_;
};

class ThreadGroup {
 public:
  // n_threads threads on `cpus` (thread i pinned to cpus[i % cpus.size()]). The caller of run() acts as thread 0;
  // call bind_caller() from that thread to pin it to cpus[0]. Throws Error if a CPU cannot be used.
  ThreadGroup(std::vector<int> cpus, int n_threads);
  ~ThreadGroup();
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;

  int size() const { return n_threads_; }
  const std::vector<int>& cpus() const { return cpus_; }

  // Pins the calling thread to cpus[0]. Returns false (and changes nothing) if the OS refuses.
  bool bind_caller() const;

  // Runs f(ThreadCtx&) on every thread of the group and returns when all have finished.
  // Not reentrant: one run() at a time per group (the caller's thread is thread 0).
  template <class F>
  void run(F&& f) {
    auto thunk = [](void* ctx, ThreadCtx& tc) { (*static_cast<std::remove_reference_t<F>*>(ctx))(tc); };
    run_job(Job{thunk, &f});
  }
  void run_job(Job job);

 private:
  friend class ThreadCtx;
  void worker_main(int ith);
  void barrier_wait();

  std::vector<int> cpus_;
  int n_threads_;
  std::vector<std::thread> workers_;
  Job job_;
  // Dispatch: workers wait for `generation_` to change; the caller waits for `pending_` to reach zero.
  alignas(64) WaitWord generation_;
  alignas(64) WaitWord pending_;
  // Sense-reversing barrier.
  alignas(64) std::atomic<uint32_t> barrier_count_{0};
  alignas(64) WaitWord barrier_phase_;
  std::atomic<bool> stop_{false};
};

}  // namespace amusd::backend
