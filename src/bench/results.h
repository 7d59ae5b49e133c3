// The benchmark's JSON document: everything a run measured, and what the HTML report is rendered from.
//   {"version": 1, "machine": {...}, "config": {...}, "pairs": [...], "datasets": [...], "variants": [...],
//    "reference": "ar", "samples": [...], "table": [...], "sweep": [...], "mismatches": [...]}
// `amusd bench` adds "roofline" and "verify_cost" when measured.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "bench/aggregate.h"
#include "bench/machine.h"
#include "bench/runner.h"

namespace amusd::bench {

nlohmann::json to_json(const BenchConfig& c);
nlohmann::json to_json(const SampleResult& s);
nlohmann::json to_json(const Row& row);
nlohmann::json to_json(const Mismatch& m);

// The whole document.
nlohmann::json results_to_json(const BenchConfig& c, const MachineInfo& machine, const RunResults& r,
                               const std::vector<Row>& table, const std::vector<Row>& sweep);

}  // namespace amusd::bench
