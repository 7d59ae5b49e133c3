// Memory read bandwidth of a set of cores: the ceiling of memory-bound decoding. Each thread reads its own slice of
// one large buffer with several interleaved sequential streams (one cache line from each stream in turn): on many
// machines, VMs especially, one stream per thread leaves the memory system idle for much of the time.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "backend/device.h"

namespace amusd::bench {

struct BandwidthOptions {
  size_t bytes = size_t(1) << 30;          // buffer, split among the threads; far larger than the caches
  std::vector<int> streams = {1, 2, 4, 8}; // interleaved streams per thread to try (each in 1..16)
  int reps = 5;                            // passes per stream count; the best counts
};

struct BandwidthPoint {
  int threads = 1;
  int streams = 1;
  double gb_per_s = 0;                     // 1e9 bytes per second, best pass
};

// Measures with every thread of `device` (the calling thread takes part, pinned to the device's first CPU).
// One point per stream count. Throws Error for options out of range or a buffer that cannot be allocated.
std::vector<BandwidthPoint> measure_read_bandwidth(backend::CpuDevice& device, const BandwidthOptions& options);

// The point with the highest bandwidth. Requires a non-empty vector.
BandwidthPoint best_bandwidth(const std::vector<BandwidthPoint>& points);

nlohmann::json to_json(const BandwidthPoint& p);

}  // namespace amusd::bench
