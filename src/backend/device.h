// Devices are objects: a draft and a verifier each get their own, so they can run side by side.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/thread_group.h"
#include "kernels/kernels.h"

namespace amusd::backend {

// A set of CPU cores with its own pinned thread group and kernel ISA.
class CpuDevice {
 public:
  // n_threads <= 0 means one thread per CPU. Throws Error if a CPU is unusable.
  CpuDevice(std::string name, std::vector<int> cpus, int n_threads = 0);

  const std::string& name() const { return name_; }
  std::string describe() const;  // "verify: cpu 0-1, 2 threads, avx512"
  ThreadGroup& threads() { return threads_; }
  const ThreadGroup& threads() const { return threads_; }
  int n_threads() const { return threads_.size(); }
  kernels::Isa isa() const { return isa_; }
  void set_isa(kernels::Isa isa) { isa_ = isa; }  // tests and benchmarks compare ISAs

  // Pins the calling thread to this device's first CPU (the thread that will drive run()).
  bool bind_caller() const { return threads_.bind_caller(); }

 private:
  std::string name_;
  ThreadGroup threads_;
  kernels::Isa isa_;
};

// "0-1" style spec -> device; empty spec means all available CPUs.
std::unique_ptr<CpuDevice> make_cpu_device(const std::string& name, const std::string& cpu_spec, int n_threads);

}  // namespace amusd::backend
