#include "bench/aggregate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace amusd::bench {

double median(std::vector<double> v) {
  AMUSD_ASSERT(!v.empty());
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Row summarize(std::span<const SampleResult* const> runs) {
  Row row;
  double sum = 0, sum2 = 0;
  int64_t n_rate = 0;
  for (const SampleResult* s : runs) {
    const decode::Stats& st = s->stats;
    ++row.runs;
    row.tokens += st.n_generated;
    row.prompt_tokens += st.n_prompt;
    row.generate_ms += st.generate_ms;
    row.prefill_ms += st.prefill_ms;
    row.drafted += st.n_drafted;
    row.accepted += st.n_accepted;
    row.verifications += st.n_verifications;
    row.rollbacks += st.n_rollbacks;
    if (row.accepted_hist.size() < st.accepted_hist.size()) row.accepted_hist.resize(st.accepted_hist.size());
    for (size_t k = 0; k < st.accepted_hist.size(); ++k) row.accepted_hist[k] += st.accepted_hist[k];
    if (st.n_generated >= 2) {
      const double x = st.ms_per_token();
      sum += x;
      sum2 += x * x;
      ++n_rate;
    }
  }
  row.ms_per_token = row.tokens ? row.generate_ms / double(row.tokens) : 0;
  row.tokens_per_second = row.generate_ms > 0 ? 1000.0 * double(row.tokens) / row.generate_ms : 0;
  if (n_rate >= 2) {
    const double mean = sum / double(n_rate);
    row.ms_per_token_sd = std::sqrt(std::max(0.0, (sum2 - double(n_rate) * mean * mean) / double(n_rate - 1)));
  }
  return row;
}

namespace {

// Rows for every variant over the runs `keep` selects, with speedups over the ar row among them.
template <class Keep>
void add_group(const RunResults& r, int pair, int dataset, Keep keep, std::vector<Row>& out) {
  const size_t first = out.size();
  for (const Variant& v : r.variants) {
    std::vector<const SampleResult*> runs;
    for (const SampleResult& s : r.samples)
      if (s.variant == v.label && keep(s)) runs.push_back(&s);
    Row row = summarize(runs);
    row.pair = pair;
    row.dataset = dataset;
    row.variant = v.label;
    for (const Mismatch& m : r.mismatches)
      if (m.pair == pair && (dataset < 0 || m.dataset == dataset) && m.variant == v.label) ++row.mismatches;
    out.push_back(std::move(row));
  }
  const Row* ar = nullptr;
  for (size_t i = first; i < out.size(); ++i)
    if (out[i].variant == "ar") ar = &out[i];
  if (!ar) return;
  const double base = ar->ms_per_token;
  for (size_t i = first; i < out.size(); ++i)
    out[i].speedup = base > 0 && out[i].ms_per_token > 0 ? base / out[i].ms_per_token : 0;
}

}  // namespace

std::vector<Row> build_table(const RunResults& r, int n_datasets) {
  std::vector<Row> out;
  for (int p = 0; p < int(r.pairs.size()); ++p)
    for (int d = 0; d < n_datasets; ++d)
      add_group(r, p, d, [&](const SampleResult& s) { return s.pair == p && s.dataset == d; }, out);
  return out;
}

std::vector<Row> build_sweep(const RunResults& r) {
  std::vector<Row> out;
  for (int p = 0; p < int(r.pairs.size()); ++p)
    add_group(r, p, -1, [&](const SampleResult& s) { return s.pair == p; }, out);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Text table

namespace {

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string format_row(const std::string& group, const Row& row, size_t group_w, size_t variant_w) {
  const bool spec = row.variant != "ar";
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-*s %9.2f %7s %9.2f %8s %8s %8s %9s %6lld %7lld%s\n", int(group_w),
                group.c_str(), int(variant_w), row.variant.c_str(), row.ms_per_token,
                row.ms_per_token_sd > 0 ? fmt("%.2f", row.ms_per_token_sd).c_str() : "-", row.tokens_per_second,
                row.speedup > 0 ? fmt("%.2fx", row.speedup).c_str() : "-",
                spec ? fmt("%.1f%%", 100.0 * row.acceptance_rate()).c_str() : "-",
                spec ? fmt("%.2f", row.mean_accepted_length()).c_str() : "-",
                spec ? fmt("%.1f", row.rollbacks_per_run()).c_str() : "-", static_cast<long long>(row.runs),
                static_cast<long long>(row.tokens), row.mismatches ? "  MISMATCH" : "");
  return line;
}

}  // namespace

std::string format_table(const std::vector<Row>& table, const std::vector<Row>& sweep, const BenchConfig& c) {
  size_t group_w = 7, variant_w = 8;  // "dataset", "strategy"
  for (const auto& d : c.datasets) group_w = std::max(group_w, d.name.size());
  for (const auto& r : table) variant_w = std::max(variant_w, r.variant.size());
  char header[512];
  std::snprintf(header, sizeof header, "%-*s  %-*s %9s %7s %9s %8s %8s %8s %9s %6s %7s\n", int(group_w), "dataset",
                int(variant_w), "strategy", "ms/token", "+-sd", "tokens/s", "speedup", "accept", "acc.len",
                "rollbk/run", "runs", "tokens");
  std::string out;
  for (size_t p = 0; p < c.pairs.size(); ++p) {
    out += "\n";
    if (c.pairs.size() > 1 || !c.pairs[p].draft.empty())
      out += "pair " + c.pairs[p].label + ": " + c.pairs[p].target +
             (c.pairs[p].draft.empty() ? "" : " + draft " + c.pairs[p].draft) + "\n";
    out += header;
    int last_dataset = -2;
    for (const Row& row : table) {
      if (row.pair != int(p)) continue;
      const bool first = row.dataset != last_dataset;
      last_dataset = row.dataset;
      out += format_row(first ? c.datasets[size_t(row.dataset)].name : "", row, group_w, variant_w);
    }
    if (c.datasets.size() > 1) {
      bool first = true;
      for (const Row& row : sweep)
        if (row.pair == int(p)) {
          out += format_row(first ? "(all)" : "", row, group_w, variant_w);
          first = false;
        }
    }
  }
  return out;
}

}  // namespace amusd::bench
