#include "backend/device.h"

#include "core/error.h"

namespace amusd::backend {

CpuDevice::CpuDevice(std::string name, std::vector<int> cpus, int n_threads)
    : name_(std::move(name)),
      threads_(cpus, n_threads > 0 ? n_threads : int(cpus.size())),
      isa_(kernels::detect_isa()) {}

std::string CpuDevice::describe() const {
  return str_cat(name_, ": cpu ", format_cpu_list(threads_.cpus()), ", ", threads_.size(),
                 threads_.size() == 1 ? " thread, " : " threads, ", kernels::isa_name(isa_));
}

std::unique_ptr<CpuDevice> make_cpu_device(const std::string& name, const std::string& cpu_spec, int n_threads) {
  std::vector<int> cpus = cpu_spec.empty() ? available_cpus() : parse_cpu_list(cpu_spec);
  AMUSD_CHECK(!cpus.empty(), "no CPUs available for device '", name, "'");
  return std::make_unique<CpuDevice>(name, std::move(cpus), n_threads);
}

}  // namespace amusd::backend
