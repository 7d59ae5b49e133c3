#include "bench/machine.h"

#include <sys/utsname.h>

#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/thread_group.h"
#include "kernels/kernels.h"

namespace amusd::bench {

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown CPU" : line.substr(start);
  }
  return "unknown CPU";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  m.cpu_model = cpu_model();
  m.n_cpus = int(backend::available_cpus().size());
  m.isa = std::string(kernels::isa_name(kernels::detect_isa()));
  utsname u{};
  if (uname(&u) == 0) m.os = std::string(u.sysname) + " " + u.release;
  m.date = utc_now();
  return m;
}

nlohmann::json to_json(const MachineInfo& m) {
  return {{"cpu_model", m.cpu_model}, {"n_cpus", m.n_cpus}, {"isa", m.isa}, {"os", m.os}, {"date", m.date}};
}

}  // namespace amusd::bench
