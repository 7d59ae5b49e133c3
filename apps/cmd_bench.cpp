// amusd bench: runs strategies on prompt sets through Engine + Session (the CLI's generation path) and prints an
// AMUSD-paper-style table; optionally the full results as JSON, an HTML report, the decode roofline and the cost of
// batched verification. All the logic lives in src/bench; this file parses options and prints.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "args.h"
#include "bench/aggregate.h"
#include "bench/progress.h"
#include "bench/report.h"
#include "bench/results.h"
#include "bench/roofline.h"
#include "bench/verify_cost.h"
#include "commands.h"
#include "core/error.h"

namespace amusd::app {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    AMUSD_CHECK(!out.back().empty(), "empty item in list '", s, "'");
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream f(path, std::ios::binary);
  AMUSD_CHECK(f, "cannot write '", path, "'");
  f << contents;
  f.close();
  AMUSD_CHECK(f, "error writing '", path, "'");
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  AMUSD_CHECK(f, "cannot read '", path, "'");
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    fail("'", path, "' is not valid JSON: ", e.what());
  }
}

// The progress line on stderr: redrawn in place on a terminal, one line per step otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled) : enabled_(enabled), tty_(isatty(STDERR_FILENO)) {}
  void show(const bench::Progress& p) {
    if (!enabled_) return;
    const std::string line = bench::format_progress(p);
    std::fprintf(stderr, tty_ ? "\r%s\x1b[K" : "%s\n", line.c_str());
    std::fflush(stderr);
    drawn_ = tty_;
  }
  void step(const std::string& what) {
    if (!enabled_) return;
    std::fprintf(stderr, tty_ ? "\r%s\x1b[K" : "%s\n", what.c_str());
    std::fflush(stderr);
    drawn_ = tty_;
  }
  // Prints a message on its own line(s), keeping the progress line intact below it.
  void message(const std::string& m) {
    clear();
    std::fprintf(stderr, "%s\n", m.c_str());
  }
  void clear() {
    if (drawn_) std::fprintf(stderr, "\r\x1b[K");
    drawn_ = false;
  }

 private:
  bool enabled_, tty_, drawn_ = false;
};

std::string command_line(int argc, char** argv) {
  std::string s = "amusd";
  for (int i = 1; i < argc; ++i) s += std::string(" ") + argv[i];
  return s;
}

// Datasets, renamed "name", "name-2", ... when two files share a name.
std::vector<bench::Dataset> load_datasets(const std::vector<std::string>& paths) {
  std::vector<bench::Dataset> out;
  std::set<std::string> names;
  for (const auto& p : paths) {
    bench::Dataset d = bench::load_dataset(p);
    const std::string base = d.name;
    for (int i = 2; names.count(d.name); ++i) d.name = base + "-" + std::to_string(i);
    names.insert(d.name);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  bench::BenchConfig c;
  engine::EngineOptions& eo = c.engine;
  std::string target, draft, strategies, json_path, report_path, from_json, kv_type = "f16";
  std::vector<std::string> pairs, datasets, splits;
  bool progress = false, roofline = false, verify_cost = false;
  int64_t bw_mib = 1024;
  int32_t verify_reps = 11;
  std::string verify_k = "1,2,4,8,16";
  uint64_t seed = 42;

  ArgParser args("amusd bench -m TARGET.gguf [-md DRAFT.gguf] --dataset FILE [--dataset FILE ...] [options]",
                 "Benchmarks decoding strategies on prompt sets and prints, per dataset and strategy: ms/token, "
                 "tokens/s,\nspeedup over ar, acceptance rate, mean accepted length and rollbacks. At temperature 0 "
                 "every strategy's\ntokens are compared with ar's: any mismatch is reported and makes the exit code "
                 "non-zero.\nDatasets: JSON lines (.jsonl/.json: \"prompt\", first of \"turns\", or \"conversation\" "
                 "contents) or text\n(one prompt per line). --roofline and --verify-cost also run without datasets.");
  args.option({"-m", "--model"}, "FILE", "target model (GGUF)", &target);
  args.option({"-md", "--model-draft"}, "FILE", "draft model (GGUF) for sd and amusd", &draft);
  args.option({"--pair"}, "T,D", "another target,draft pair for the acceptance sweep (repeatable)", &pairs);
  args.option({"--dataset"}, "FILE", "prompt set (repeatable)", &datasets);
  args.option({"--strategies"}, "LIST", "comma-separated: ar,sd,amusd (default: all three; ar without -md)",
              &strategies);
  args.option({"-N", "--samples"}, "N", "prompts per dataset: the first N (default 10)", &c.n_samples);
  args.option({"-n", "--n-predict"}, "N", "most new tokens per generation (default 128)", &c.max_new_tokens);
  args.option({"--reps"}, "N", "repetitions of every sample (default 1)", &c.reps);
  args.option({"--warmup"}, "N", "untimed warm-up generations per strategy (default 1)", &c.warmup);
  args.flag({"--ignore-eos"}, "always generate -n tokens", &c.ignore_eos);
  args.option({"--temp"}, "T", "temperature (default 0 = greedy, which checks outputs against ar)",
              &c.sampling.temperature);
  args.option({"--top-k"}, "K", "top-k sampling (default 40; 0 = off)", &c.sampling.top_k);
  args.option({"--top-p"}, "P", "top-p sampling (default 0.95; 1 = off)", &c.sampling.top_p);
  args.option({"--min-p"}, "P", "min-p sampling (default 0.05; 0 = off)", &c.sampling.min_p);
  args.option({"-s", "--seed"}, "N", "base random seed; each sample derives its own (default 42)", &seed);
  args.option({"--draft-max"}, "K", "most draft tokens per verification (default 8)", &eo.spec.draft_max);
  args.flag({"--draft-adaptive"}, "sd: grow K after full acceptance, shrink after a rejection", &eo.spec.adaptive);
  args.option({"--draft-p-min"}, "P", "sd: stop drafting when the draft's top probability < P", &eo.spec.draft_p_min);
  args.option({"--draft-ahead"}, "N", "amusd: most tokens the draft runs ahead (default 2 x draft-max)",
              &eo.spec.draft_ahead);
  args.option({"--cpus"}, "LIST", "CPU cores for ar and sd, e.g. 0-1 (default: all)", &eo.cpus);
  args.option({"-t", "--threads"}, "N", "threads for ar and sd (default: one per core)", &eo.threads);
  args.option({"--split"}, "D:V", "amusd draft cores : verifier cores, e.g. 0:1 (repeatable; one row each; "
              "default: first core : the rest)", &splits);
  args.option({"-c", "--ctx-size"}, "N", "context size (default: the model's, at most 4096)", &eo.ctx.n_ctx);
  args.option({"--kv-type"}, "TYPE", "KV cache type: f16 (default) or f32", &kv_type);
  args.flag({"--no-amx"},
            "keep Q8_0 / Q4_0 / Q4_K / Q6_K weights row-major (no AMX panels; see amusd generate --help)",
            &eo.load.keep_row_major);
  args.option({"--json"}, "FILE", "write config, every sample (tokens, timestamps, statistics, timeline) and the "
              "table as JSON", &json_path);
  args.option({"--report"}, "FILE", "write a self-contained HTML report with figures", &report_path);
  args.option({"--from-json"}, "FILE", "render --report from a saved --json file instead of running", &from_json);
  args.flag({"--progress"}, "show progress on stderr even when it is not a terminal", &progress);
  args.flag({"--roofline"}, "measure memory bandwidth and compare ar decoding with the bound it sets", &roofline);
  args.option({"--bw-mib"}, "N", "roofline: bandwidth buffer size in MiB (default 1024)", &bw_mib);
  args.flag({"--verify-cost"}, "time K-token target passes against one decode step", &verify_cost);
  args.option({"--verify-k"}, "LIST", "verify-cost: the K to time, 1..256 (default 1,2,4,8,16)", &verify_k);
  args.option({"--verify-reps"}, "N", "verify-cost: timed repetitions, median counts (default 11)", &verify_reps);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }

  if (!from_json.empty()) {
    AMUSD_CHECK(!report_path.empty(), "--from-json needs --report FILE");
    write_file(report_path, bench::render_report(read_json(from_json)));
    std::fprintf(stderr, "report: %s\n", report_path.c_str());
    return 0;
  }
  AMUSD_CHECK(!target.empty(), "missing -m TARGET.gguf (see --help)");
  AMUSD_CHECK(!datasets.empty() || roofline || verify_cost,
              "nothing to do: give --dataset FILE (and/or --roofline, --verify-cost)");
  AMUSD_CHECK(bw_mib >= 1 && bw_mib <= (1 << 20), "--bw-mib must be in 1..1048576, got ", bw_mib);
  AMUSD_CHECK(verify_reps >= 1 && verify_reps <= 1000, "--verify-reps must be in 1..1000, got ", verify_reps);
  bench::VerifyCostOptions vo;
  vo.reps = verify_reps;
  vo.batch_sizes.clear();
  for (const auto& k : split_list(verify_k)) {
    char* end = nullptr;
    const long v = std::strtol(k.c_str(), &end, 10);
    AMUSD_CHECK(*end == '\0' && v >= 1 && v <= 256, "--verify-k: each K must be an integer in 1..256, got '", k, "'");
    vo.batch_sizes.push_back(v);
  }
  AMUSD_CHECK(eo.ctx.n_ctx >= 0 && eo.ctx.n_ctx <= (1 << 20), "--ctx-size must be in 0..1048576, got ", eo.ctx.n_ctx);
  AMUSD_CHECK(eo.threads >= 0 && eo.threads <= 256, "--threads must be in 0..256, got ", eo.threads);
  const auto kv = dtype_from_name(kv_type);
  AMUSD_CHECK(kv && (*kv == DType::F16 || *kv == DType::F32), "--kv-type must be f16 or f32, got '", kv_type, "'");
  eo.ctx.kv_type = *kv;
  c.sampling.seed = seed;
  c.pairs.push_back(bench::model_pair(target, draft));
  for (const auto& p : pairs) c.pairs.push_back(bench::parse_pair(p));
  c.strategies = !strategies.empty() ? split_list(strategies)
                 : draft.empty()     ? std::vector<std::string>{"ar"}
                                     : std::vector<std::string>{"ar", "sd", "amusd"};
  for (const auto& s : splits) c.splits.push_back(bench::parse_split(s));
  c.datasets = load_datasets(datasets);

  ProgressPrinter printer(progress || isatty(STDERR_FILENO));
  const bench::MachineInfo machine = bench::describe_machine();
  nlohmann::json doc;
  int64_t n_mismatches = 0;
  if (!c.datasets.empty()) {
    bench::validate(c);
    for (size_t d = 0; d < c.datasets.size(); ++d)
      if (int64_t(c.datasets[d].prompts.size()) < c.n_samples)
        std::fprintf(stderr, "note: %s has only %zu prompts; using all of them\n", c.datasets[d].name.c_str(),
                     c.datasets[d].prompts.size());
    bench::RunCallbacks cb;
    cb.progress = [&](const bench::Progress& p) { printer.show(p); };
    cb.mismatch = [&](const bench::Mismatch& m) { printer.message("\n*** " + bench::describe(m, c) + " ***\n"); };
    const bench::RunResults r = bench::run_benchmark(c, cb);
    printer.clear();
    const auto table = bench::build_table(r, int(c.datasets.size()));
    const auto sweep = bench::build_sweep(r);
    std::printf("%s", bench::format_table(table, sweep, c).c_str());
    n_mismatches = int64_t(r.mismatches.size());
    if (c.sampling.greedy())
      std::printf("\noutput check (temperature 0): %s\n",
                  n_mismatches == 0 ? ("every strategy emitted exactly the tokens of " +
                                       bench::reference_variant(r.variants)).c_str()
                                    : (std::to_string(n_mismatches) + " MISMATCH(ES) - see above").c_str());
    std::fflush(stdout);
    doc = bench::results_to_json(c, machine, r, table, sweep);
  } else {
    doc["version"] = 1;
    doc["machine"] = bench::to_json(machine);
  }
  const std::string label = c.pairs[0].label;
  if (roofline) {
    bench::RooflineOptions ro;
    ro.bandwidth.bytes = size_t(bw_mib) << 20;
    ro.ctx = eo.ctx;
    ro.load = eo.load;
    ro.n_tokens = std::min<int64_t>(std::max<int64_t>(c.max_new_tokens, 8), 64);
    const auto rows = bench::measure_roofline(target, ro, [&](const std::string& s) { printer.step("roofline: " + s); });
    printer.clear();
    std::printf("%s", bench::format_roofline(rows, label).c_str());
    nlohmann::json jr = nlohmann::json::array();
    for (const auto& row : rows) jr.push_back(bench::to_json(row));
    doc["roofline"] = {{"model", label}, {"rows", jr}};
  }
  if (verify_cost) {
    printer.step("verify-cost: timing target passes of " + verify_k + " tokens");
    const auto model = model::Model::load(target, eo.load);
    auto device = backend::make_cpu_device("target", eo.cpus, eo.threads);
    const bench::VerifyCost v = bench::measure_verify_cost(*model, *device, eo.ctx, vo);
    printer.clear();
    std::printf("%s", bench::format_verify_cost(v, label).c_str());
    doc["verify_cost"] = bench::to_json(v);
  }
  doc["command"] = command_line(argc, argv);
  if (!json_path.empty()) {
    // Generated text may hold invalid UTF-8 (a model can emit half a character): replace such bytes.
    write_file(json_path, doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::fprintf(stderr, "results: %s\n", json_path.c_str());
  }
  if (!report_path.empty()) {
    // Round-trip through text so invalid UTF-8 is replaced in the report as in the JSON.
    const auto clean = nlohmann::json::parse(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    write_file(report_path, bench::render_report(clean));
    std::fprintf(stderr, "report: %s\n", report_path.c_str());
  }
  AMUSD_CHECK(n_mismatches == 0, n_mismatches, " generation(s) differ from ", bench::reference_variant(bench::variants(c)),
              " at temperature 0 (see the MISMATCH lines above): this is a bug");
  return 0;
}

}  // namespace amusd::app
