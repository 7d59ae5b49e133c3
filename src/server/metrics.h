// Server metrics in the Prometheus text exposition format (GET /metrics). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amusd::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // ascending; a +Inf bucket is implied
  void observe(double value);
  // Appends "# HELP", "# TYPE" and the _bucket / _sum / _count lines.
  void write(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // [bounds_.size() + 1], not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

// What one generation (finished, cancelled or failed) contributes to the metrics.
struct GenerationRecord {
  std::string strategy;
  std::string outcome;          // "finished", "cancelled", "failed"
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  int64_t drafted = 0;
  int64_t accepted = 0;
  double queue_wait_s = 0;      // from arrival to the start of the generation
  double ttft_s = -1;           // from arrival to the first token; < 0 when no token was produced
  double time_per_token_s = -1; // mean time between tokens after the first; < 0 with fewer than 2 tokens
};

class Metrics {
 public:
  Metrics();
  // One HTTP request answered with `status`; `endpoint` is the route ("/v1/completions", or "other").
  void count_request(std::string_view endpoint, int status);
  void record_generation(const GenerationRecord& g);
  // The whole exposition; `queued` and `running` are the scheduler's current gauges.
  std::string render(size_t queued, size_t running) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;            // (endpoint, status) -> count
  std::map<std::pair<std::string, std::string>, uint64_t> generations_; // (strategy, outcome) -> count
  std::map<std::string, int64_t> drafted_, accepted_;                   // by strategy
  int64_t prompt_tokens_ = 0, generated_tokens_ = 0;
  Histogram ttft_, time_per_token_, queue_wait_;
};

}  // namespace amusd::server
