#include "bench/roofline.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "backend/thread_group.h"
#include "bench/aggregate.h"
#include "bench/token_timer.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/session.h"

namespace amusd::bench {

double measure_decode_tps(const std::string& target_path, const std::string& cpus, int threads,
                          const RooflineOptions& o) {
  AMUSD_CHECK(o.n_tokens >= 2, "roofline: decode at least 2 tokens, got ", o.n_tokens);
  AMUSD_CHECK(o.reps >= 1 && o.reps <= 100, "roofline: reps must be in 1..100, got ", o.reps);
  engine::EngineOptions eo;
  eo.target_path = target_path;
  eo.cpus = cpus;
  eo.threads = threads;
  eo.ctx = o.ctx;
  eo.load = o.load;
  engine::Engine e(eo);
  engine::Session session(e.target().tokenizer(), e.strategy("ar"));
  engine::GenerateOptions opt;
  opt.sampling.temperature = 0;
  opt.ignore_eos = true;
  const std::vector<int32_t> prompt = e.target().tokenizer().encode(o.prompt, true);
  opt.max_new_tokens = std::min<int64_t>(o.n_tokens, 8);
  session.generate(prompt, opt);  // warm-up: pages, caches, thread wake-up
  opt.max_new_tokens = o.n_tokens;
  std::vector<double> tps;
  for (int r = 0; r < o.reps; ++r) {
    TokenTimer timer;
    timer.start();
    session.generate(prompt, opt, &timer);
    const auto& ms = timer.token_ms();
    AMUSD_CHECK(ms.size() >= 2, "roofline: the model stopped after ", ms.size(), " tokens (context full?)");
    tps.push_back(1000.0 * double(ms.size() - 1) / (ms.back() - ms.front()));
  }
  return median(tps);
}

std::vector<RooflineRow> measure_roofline(const std::string& target_path, const RooflineOptions& o,
                                          const std::function<void(const std::string&)>& on_step) {
  const std::vector<int> all = backend::available_cpus();
  std::vector<std::vector<int>> sets = {{all.front()}};
  if (all.size() > 1) sets.push_back(all);
  const uint64_t bytes = model::Model::load(target_path, {.keep_row_major = true})->bytes_per_token();
  std::vector<RooflineRow> rows;
  for (const auto& cpus : sets) {
    RooflineRow row;
    row.threads = int(cpus.size());
    row.cpus = backend::format_cpu_list(cpus);
    if (on_step) on_step("memory bandwidth, " + std::to_string(row.threads) + " thread(s)");
    backend::CpuDevice device("bandwidth", cpus, row.threads);
    row.bandwidth = measure_read_bandwidth(device, o.bandwidth);
    row.best = best_bandwidth(row.bandwidth);
    row.bytes_per_token = bytes;
    row.bound_tps = bytes ? row.best.gb_per_s * 1e9 / double(bytes) : 0;
    if (on_step) on_step("ar decode speed, " + std::to_string(row.threads) + " thread(s)");
    row.measured_tps = measure_decode_tps(target_path, row.cpus, row.threads, o);
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json to_json(const RooflineRow& r) {
  nlohmann::json bw = nlohmann::json::array();
  for (const auto& p : r.bandwidth) bw.push_back(to_json(p));
  return {{"threads", r.threads},
          {"cpus", r.cpus},
          {"bandwidth", bw},
          {"bandwidth_gb_per_s", r.best.gb_per_s},
          {"best_streams", r.best.streams},
          {"bytes_per_token", r.bytes_per_token},
          {"bound_tokens_per_second", r.bound_tps},
          {"measured_tokens_per_second", r.measured_tps},
          {"fraction_of_bound", r.fraction()}};
}

std::string format_roofline(const std::vector<RooflineRow>& rows, const std::string& model_label) {
  std::string out = "\nroofline: " + model_label;
  char line[512];
  if (!rows.empty()) {
    std::snprintf(line, sizeof line, ", %.1f MiB of weights read per token\n",
                  double(rows[0].bytes_per_token) / (1024.0 * 1024.0));
    out += line;
  }
  out += "threads  cpus   read bandwidth (GB/s) by streams/thread          best   decode bound   measured   of bound\n";
  for (const auto& r : rows) {
    std::string streams;
    for (const auto& p : r.bandwidth) {
      std::snprintf(line, sizeof line, "%d:%.1f ", p.streams, p.gb_per_s);
      streams += line;
    }
    std::snprintf(line, sizeof line, "%7d  %-5s  %-44s %6.1f  %9.2f t/s  %7.2f t/s  %7.1f%%\n", r.threads,
                  r.cpus.c_str(), streams.c_str(), r.best.gb_per_s, r.bound_tps, r.measured_tps, 100.0 * r.fraction());
    out += line;
  }
  return out;
}

}  // namespace amusd::bench
