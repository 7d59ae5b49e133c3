// The decode roofline: decoding one token reads every weight once, so memory bandwidth / weight bytes per token is
// the most tokens/s plain decoding can reach. Measured per thread count (1 and all CPUs) against real ar decoding.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "bench/bandwidth.h"
#include "model/context.h"

namespace amusd::bench {

struct RooflineOptions {
  BandwidthOptions bandwidth;
  std::string prompt = "Once upon a time";
  int64_t n_tokens = 32;           // decoded per measurement (end-of-generation ignored)
  int reps = 3;                    // measurements per thread count after one warm-up; the median counts
  model::ContextOptions ctx;
  model::LoadOptions load;
};

struct RooflineRow {
  int threads = 1;
  std::string cpus;                         // "0" or "0-1"
  std::vector<BandwidthPoint> bandwidth;    // per stream count
  BandwidthPoint best;                      // the highest bandwidth
  uint64_t bytes_per_token = 0;             // weight bytes read to decode one token
  double bound_tps = 0;                     // best bandwidth / bytes_per_token
  double measured_tps = 0;                  // ar decoding: tokens / s between the first and the last token
  double fraction() const { return bound_tps > 0 ? measured_tps / bound_tps : 0; }
};

// Rows for 1 thread on the first CPU and, when there are more, one thread per available CPU. `on_step` (optional)
// hears what is being measured. Throws Error if the model cannot be loaded or options are out of range.
std::vector<RooflineRow> measure_roofline(const std::string& target_path, const RooflineOptions& options,
                                          const std::function<void(const std::string&)>& on_step = {});

// Decode speed of plain ar decoding through Engine + Session: tokens/s between the first and the last emitted token,
// median over `reps` runs after one warm-up.
double measure_decode_tps(const std::string& target_path, const std::string& cpus, int threads,
                          const RooflineOptions& options);

nlohmann::json to_json(const RooflineRow& r);
std::string format_roofline(const std::vector<RooflineRow>& rows, const std::string& model_label);

}  // namespace amusd::bench
