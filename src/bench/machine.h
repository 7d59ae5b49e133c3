// A short description of the machine a benchmark ran on, for reports.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace amusd::bench {

struct MachineInfo {
  std::string cpu_model;     // "Intel(R) Xeon(R) Platinum 8480C" (from /proc/cpuinfo; "unknown CPU" elsewhere)
  int n_cpus = 0;            // CPUs this process may use
  std::string isa;           // best kernel ISA: "avx512"
  std::string os;            // "Linux 6.1.0-18-amd64"
  std::string date;          // UTC, ISO 8601
};

MachineInfo describe_machine();
nlohmann::json to_json(const MachineInfo& m);

}  // namespace amusd::bench
