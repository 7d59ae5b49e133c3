// Aggregation of benchmark runs into the table (per pair, dataset and variant) and the sweep (per pair and variant,
// all datasets pooled). Times and counts are pooled over runs: ms/token = total generation time / total tokens,
// acceptance rate = accepted / drafted, mean accepted length = (accepted + verifications) / verifications.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bench/runner.h"

namespace amusd::bench {

struct Row {
  int pair = 0;
  int dataset = -1;                 // -1: every dataset of the pair (a sweep row)
  std::string variant;              // Variant::label
  int64_t runs = 0;
  int64_t tokens = 0;               // generated, all runs
  int64_t prompt_tokens = 0;        // all runs
  double generate_ms = 0;           // all runs
  double prefill_ms = 0;            // all runs
  double ms_per_token = 0;          // generate_ms / tokens
  double ms_per_token_sd = 0;       // standard deviation of the per-run ms/token (runs with >= 2 tokens)
  double tokens_per_second = 0;
  double speedup = 0;               // ar's ms/token / this ms/token in the same pair and dataset; 0 without ar
  int64_t drafted = 0, accepted = 0, verifications = 0, rollbacks = 0;
  std::vector<int64_t> accepted_hist;  // [k]: verifications that accepted k draft tokens
  int64_t mismatches = 0;

  double acceptance_rate() const { return drafted ? double(accepted) / double(drafted) : 0; }
  double mean_accepted_length() const {
    return verifications ? double(accepted + verifications) / double(verifications) : 0;
  }
  double rollbacks_per_run() const { return runs ? double(rollbacks) / double(runs) : 0; }
  double prefill_tokens_per_second() const { return prefill_ms > 0 ? 1000.0 * double(prompt_tokens) / prefill_ms : 0; }
};

// The median of a non-empty set of measurements (the mean of the middle two for an even count).
double median(std::vector<double> v);

// Pools the given runs (speedup and identity fields are left for the caller).
Row summarize(std::span<const SampleResult* const> runs);

// One row per (pair, dataset, variant), in that order, with speedups over the "ar" row of the same pair and dataset.
std::vector<Row> build_table(const RunResults& r, int n_datasets);
// One row per (pair, variant), datasets pooled (dataset = -1), with speedups over ar.
std::vector<Row> build_sweep(const RunResults& r);

// The table as aligned text, grouped by pair (when there are several) and dataset, followed by the pooled rows.
std::string format_table(const std::vector<Row>& table, const std::vector<Row>& sweep, const BenchConfig& c);

}  // namespace amusd::bench
