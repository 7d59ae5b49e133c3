// amusd bench: dataset parsing, aggregation math, the runner on stories260K (through Engine + Session), the results
// JSON, the HTML report (figures present, well-formed), its rendering in headless Chromium, the bandwidth / roofline
// / verification-cost probes, and the command line.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "backend/device.h"
#include "backend/thread_group.h"
#include "bench/aggregate.h"
#include "bench/bandwidth.h"
#include "bench/dataset.h"
#include "bench/progress.h"
#include "bench/report.h"
#include "bench/results.h"
#include "bench/roofline.h"
#include "bench/svg.h"
#include "bench/verify_cost.h"
#include "core/error.h"
#include "support.h"

namespace amusd {
namespace {

namespace fs = std::filesystem;
using bench::DatasetFormat;
using nlohmann::json;

std::string model(const std::string& name) { return test::shared_path("models/" + name + ".gguf"); }

// A fresh directory for this test process (ctest runs tests in parallel processes).
fs::path temp_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("amusd-bench-test-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string write_temp(const std::string& name, const std::string& contents) {
  const fs::path p = temp_dir() / name;
  std::ofstream(p, std::ios::binary) << contents;
  return p.string();
}

// Runs `fn` and returns the message of the amusd::Error it throws ("" if none).
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------------------------
// Datasets

TEST(BenchDataset, FormatFollowsTheFileName) {
  EXPECT_EQ(bench::format_for_path("a/mt_bench.jsonl"), DatasetFormat::JsonLines);
  EXPECT_EQ(bench::format_for_path("x.ndjson"), DatasetFormat::JsonLines);
  EXPECT_EQ(bench::format_for_path("x.json"), DatasetFormat::JsonLines);
  EXPECT_EQ(bench::format_for_path("prompts.txt"), DatasetFormat::Text);
  EXPECT_EQ(bench::format_for_path("prompts"), DatasetFormat::Text);
}

TEST(BenchDataset, JsonLinesWithEveryPromptField) {
  const std::string text =
      "{\"prompt\": \"def f():\\n    pass\", \"turns\": [\"ignored\"]}\r\n"
      "\n"
      "{\"turns\": [\"first turn\", \"second turn\"]}\n"
      "   \n"
      "{\"conversation\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n"
      "{\"conversation\": [\"plain\", \"strings\"]}";
  const auto p = bench::parse_prompts(text, DatasetFormat::JsonLines, "mem.jsonl");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], "def f():\n    pass");
  EXPECT_EQ(p[1], "first turn");
  EXPECT_EQ(p[2], "Hi\n\nHello");
  EXPECT_EQ(p[3], "plain\n\nstrings");
}

TEST(BenchDataset, JsonArray) {
  const auto p = bench::parse_prompts(" [{\"prompt\": \"a\"}, {\"turns\": [\"b\"]}]", DatasetFormat::JsonLines, "x.json");
  EXPECT_EQ(p, (std::vector<std::string>{"a", "b"}));
}

TEST(BenchDataset, TextLinesAreLiteral) {
  const auto p = bench::parse_prompts("Once upon a time\r\n\n   leading spaces\tand tabs\ndef f(n):\\n    return n\n\n",
                                      DatasetFormat::Text, "x.txt");
  EXPECT_EQ(p, (std::vector<std::string>{"Once upon a time", "   leading spaces\tand tabs", "def f(n):\\n    return n"}));
}

TEST(BenchDataset, BadInputsGiveClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"prompt\": \"a\"}\n{\"prompt\": \"b\"", "x.jsonl:2: invalid JSON"},
      {"{\"prompt\": 3}", "x.jsonl:1: \"prompt\" must be a string"},
      {"{\"turns\": []}", "x.jsonl:1: \"turns\" must be a non-empty array of strings"},
      {"{\"turns\": [1]}", "\"turns\" must be a non-empty array of strings"},
      {"{\"conversation\": [{\"role\": \"user\"}]}", "has no \"content\" field"},
      {"{\"conversation\": []}", "\"conversation\" must be a non-empty array"},
      {"{\"question\": \"a\"}", "x.jsonl:1: no \"prompt\", \"turns\" or \"conversation\" field"},
      {"[1, 2]", "x.jsonl: record 0: expected a JSON object"},
      {"{\"prompt\": \"a\"}\n[1]", "x.jsonl:2: expected a JSON object"},
      {"{\"prompt\": \"\"}", "prompt 0 is empty"},
      {"\n\n  \n", "x.jsonl: no prompts found"},
      {"[{\"prompt\": \"a\"}, {\"nothing\": 1}]", "record 1: no \"prompt\""},
  };
  for (const auto& [text, msg] : cases) {
    const std::string err = error_of([&] { bench::parse_prompts(text, DatasetFormat::JsonLines, "x.jsonl"); });
    EXPECT_NE(err.find(msg), std::string::npos) << text << "\n-> " << err;
  }
  EXPECT_NE(error_of([] { bench::parse_prompts("", DatasetFormat::Text, "e.txt"); }).find("e.txt: no prompts found"),
            std::string::npos);
  EXPECT_NE(error_of([] { bench::load_dataset("/nonexistent/prompts.txt"); }).find("cannot read dataset"),
            std::string::npos);
}

TEST(BenchDataset, SharedDatasetsLoadAsTheyAre) {
  const auto he = bench::load_dataset(test::shared_path("datasets/humaneval.jsonl"));
  EXPECT_EQ(he.name, "humaneval");
  EXPECT_EQ(he.prompts.size(), 164u);
  EXPECT_EQ(he.prompts[0].rfind("from typing import List", 0), 0u);
  const auto mt = bench::load_dataset(test::shared_path("datasets/mt_bench.jsonl"));
  EXPECT_EQ(mt.prompts.size(), 80u);
  EXPECT_EQ(mt.prompts[0].rfind("Compose an engaging travel blog post", 0), 0u);
  const auto misc = bench::load_dataset(test::shared_path("datasets/misc-prompts.txt"));
  ASSERT_EQ(misc.prompts.size(), 6u);
  EXPECT_EQ(misc.prompts[4], "   leading spaces and\ttabs");
  EXPECT_GE(bench::load_dataset(test::shared_path("datasets/stories-prompts.txt")).prompts.size(), 3u);
}

// ---------------------------------------------------------------------------------------------------------
// Specs, aggregation, progress

TEST(BenchSpecs, SplitsAndPairs) {
  const auto s = bench::parse_split("0:1");
  EXPECT_EQ(s.draft_cpus, "0");
  EXPECT_EQ(s.verify_cpus, "1");
  EXPECT_EQ(s.label(), "0:1");
  for (const char* bad : {"0", ":1", "0:", "0:1:2", "a:b"})
    EXPECT_FALSE(error_of([&] { bench::parse_split(bad); }).empty()) << bad;
  EXPECT_NE(error_of([] { bench::parse_split("0:0"); }).find("in both sets"), std::string::npos);
  const auto p = bench::parse_pair("/m/t.gguf,/m/d.gguf");
  EXPECT_EQ(p.target, "/m/t.gguf");
  EXPECT_EQ(p.draft, "/m/d.gguf");
  EXPECT_EQ(p.label, "t");
  for (const char* bad : {"t.gguf", ",d", "t,", "a,b,c"})
    EXPECT_NE(error_of([&] { bench::parse_pair(bad); }).find("--pair"), std::string::npos) << bad;
}

bench::SampleResult fake_run(const std::string& variant, int dataset, int64_t index, int64_t n, double ms,
                             int64_t drafted = 0, int64_t accepted = 0, int64_t verifications = 0,
                             std::vector<int64_t> hist = {}, int64_t rollbacks = 0) {
  bench::SampleResult s;
  s.variant = variant;
  s.dataset = dataset;
  s.index = index;
  s.tokens.assign(size_t(n), 7);
  s.stats.n_generated = n;
  s.stats.n_prompt = 10;
  s.stats.generate_ms = ms;
  s.stats.prefill_ms = 5;
  s.stats.n_drafted = drafted;
  s.stats.n_accepted = accepted;
  s.stats.n_verifications = verifications;
  s.stats.accepted_hist = std::move(hist);
  s.stats.n_rollbacks = rollbacks;
  return s;
}

TEST(BenchAggregate, PoolsRunsAndComputesSpeedups) {
  bench::RunResults r;
  r.variants = {{"ar", "ar", {}}, {"sd", "sd", {}}};
  r.pairs.resize(1);
  r.samples = {fake_run("ar", 0, 0, 10, 100), fake_run("ar", 0, 1, 30, 200),         // 300 ms / 40 tokens
               fake_run("sd", 0, 0, 10, 40, 12, 6, 3, {1, 1, 0, 1}, 2),
               fake_run("sd", 0, 1, 30, 80, 28, 21, 7, {0, 2, 2, 3}, 1),              // 120 ms / 40 tokens
               fake_run("ar", 1, 0, 20, 100), fake_run("sd", 1, 0, 20, 100, 10, 5, 5, {5})};
  r.mismatches.push_back({0, 1, 0, 0, "sd", "ar", 3});
  const auto table = bench::build_table(r, 2);
  ASSERT_EQ(table.size(), 4u);
  const bench::Row& ar0 = table[0];
  const bench::Row& sd0 = table[1];
  EXPECT_EQ(ar0.variant, "ar");
  EXPECT_EQ(ar0.runs, 2);
  EXPECT_EQ(ar0.tokens, 40);
  EXPECT_DOUBLE_EQ(ar0.ms_per_token, 7.5);
  EXPECT_DOUBLE_EQ(ar0.tokens_per_second, 1000.0 * 40 / 300);
  EXPECT_DOUBLE_EQ(ar0.speedup, 1.0);
  // per-run ms/token 10 and 6.67: sample standard deviation
  EXPECT_NEAR(ar0.ms_per_token_sd, std::sqrt(2 * std::pow((10.0 - 20.0 / 3) / 2, 2)), 1e-9);
  EXPECT_DOUBLE_EQ(sd0.ms_per_token, 3.0);
  EXPECT_DOUBLE_EQ(sd0.speedup, 2.5);
  EXPECT_DOUBLE_EQ(sd0.acceptance_rate(), 27.0 / 40.0);
  EXPECT_DOUBLE_EQ(sd0.mean_accepted_length(), (27.0 + 10.0) / 10.0);
  EXPECT_DOUBLE_EQ(sd0.rollbacks_per_run(), 1.5);
  EXPECT_EQ(sd0.accepted_hist, (std::vector<int64_t>{1, 3, 2, 4}));
  EXPECT_DOUBLE_EQ(sd0.prefill_tokens_per_second(), 1000.0 * 20 / 10);
  EXPECT_EQ(sd0.mismatches, 0);
  EXPECT_EQ(table[3].mismatches, 1);
  EXPECT_DOUBLE_EQ(table[3].speedup, 1.0);

  const auto sweep = bench::build_sweep(r);
  ASSERT_EQ(sweep.size(), 2u);
  EXPECT_EQ(sweep[1].dataset, -1);
  EXPECT_EQ(sweep[1].runs, 3);
  EXPECT_DOUBLE_EQ(sweep[1].speedup, (400.0 / 60) / (220.0 / 60));
  EXPECT_EQ(sweep[1].mismatches, 1);

  bench::BenchConfig c;
  c.pairs = {bench::model_pair("t.gguf", "d.gguf")};
  c.datasets = {{"alpha", "a.txt", {"x"}}, {"beta", "b.txt", {"y"}}};
  const std::string text = bench::format_table(table, sweep, c);
  for (const char* s : {"alpha", "beta", "(all)", "ms/token", "speedup", "2.50x", "67.5%", "3.70", "MISMATCH"})
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
}

TEST(BenchAggregate, WithoutArThereIsNoSpeedup) {
  bench::RunResults r;
  r.variants = {{"sd", "sd", {}}};
  r.pairs.resize(1);
  r.samples = {fake_run("sd", 0, 0, 10, 40, 12, 6, 3)};
  const auto table = bench::build_table(r, 1);
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0].speedup, 0);
  EXPECT_EQ(table[0].ms_per_token_sd, 0);  // one run: no spread
}

TEST(BenchAggregate, FindsMismatches) {
  auto a = fake_run("ar", 0, 0, 0, 1), b = fake_run("sd", 0, 0, 0, 1), c = fake_run("amusd[0:1]", 0, 0, 0, 1);
  a.tokens = {1, 2, 3, 4};
  b.tokens = {1, 2, 9, 4};
  c.tokens = {1, 2, 3};
  auto other = fake_run("sd", 0, 1, 0, 1);  // another sample: not compared with a
  other.tokens = {5};
  const auto m = bench::find_mismatches({a, b, c, other}, "ar");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].variant, "sd");
  EXPECT_EQ(m[0].position, 2);
  EXPECT_EQ(m[0].expected, 3);
  EXPECT_EQ(m[0].got, 9);
  EXPECT_EQ(m[1].variant, "amusd[0:1]");
  EXPECT_EQ(m[1].position, 3);
  EXPECT_EQ(m[1].expected, 4);
  EXPECT_EQ(m[1].got, -1);
  EXPECT_EQ(m[1].got_len, 3);
}

TEST(BenchProgress, Formats) {
  EXPECT_EQ(bench::format_duration(5.4), "5s");
  EXPECT_EQ(bench::format_duration(125), "2m05s");
  EXPECT_EQ(bench::format_duration(3725), "1h02m");
  EXPECT_EQ(bench::format_duration(-1), "?");
  bench::Progress p{12, 40, "tl", "mt_bench", "amusd[0:1]", 62, 130};
  const std::string line = bench::format_progress(p, 10);
  EXPECT_EQ(line.rfind("[###.......] 12/40 ( 30%)", 0), 0u) << line;
  for (const char* s : {"mt_bench", "amusd[0:1]", "1m02s elapsed", "ETA 2m10s"})
    EXPECT_NE(line.find(s), std::string::npos) << line;
  p.eta_s = -1;
  EXPECT_EQ(bench::format_progress(p).find("ETA"), std::string::npos);
}

TEST(BenchSvg, Helpers) {
  EXPECT_EQ(bench::svg::esc("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
  EXPECT_EQ(bench::svg::num(1.254, 2), "1.25");
  EXPECT_EQ(bench::svg::num(-0.0001, 1), "0.0");
  EXPECT_EQ(bench::svg::num(NAN, 1), "-");
  const auto t = bench::svg::nice_ticks(0, 1.37, 5);
  ASSERT_GE(t.size(), 3u);
  EXPECT_EQ(t.front(), 0);
  EXPECT_GE(t.back(), 1.37);
  EXPECT_EQ(bench::svg::tick_decimals(0.25), 2);
  EXPECT_EQ(bench::svg::tick_decimals(5), 0);
  const bench::svg::Linear x{0, 10, 100, 200};
  EXPECT_DOUBLE_EQ(x(5), 150);
}

// ---------------------------------------------------------------------------------------------------------
// The runner on stories260K, its JSON, and the report

bench::BenchConfig small_config() {
  bench::BenchConfig c;
  c.pairs = {bench::model_pair(model("stories260K"), model("stories260K-draft"))};
  c.datasets = {{"stories", "mem.txt", {"Once upon a time", "Lily and Tom went to the park", "unused"}},
                {"chat", "mem.jsonl", {"The little dog was sad because"}}};
  c.n_samples = 2;
  c.max_new_tokens = 24;
  c.engine.spec.draft_max = 4;
  return c;
}

// One run shared by the tests below (about a second).
struct SmallRun {
  bench::BenchConfig config = small_config();
  std::vector<bench::Progress> progress;
  bench::RunResults results;
  json doc;
  SmallRun() {
    bench::RunCallbacks cb;
    cb.progress = [&](const bench::Progress& p) { progress.push_back(p); };
    results = bench::run_benchmark(config, cb);
    const auto table = bench::build_table(results, int(config.datasets.size()));
    const auto sweep = bench::build_sweep(results);
    doc = bench::results_to_json(config, bench::describe_machine(), results, table, sweep);
  }
};

const SmallRun& small_run() {
  static const SmallRun run;
  return run;
}

TEST(BenchRunner, GeneratesEverySampleWithEveryStrategy) {
  if (backend::available_cpus().size() < 2) GTEST_SKIP() << "amusd needs 2 CPUs";
  const SmallRun& run = small_run();
  const auto& r = run.results;
  ASSERT_EQ(r.variants.size(), 3u);
  EXPECT_EQ(r.variants[2].label.rfind("amusd[", 0), 0u);
  ASSERT_EQ(r.samples.size(), (2u + 1u) * 3u);  // stories: 2 samples, chat: 1 (all it has)
  EXPECT_TRUE(r.mismatches.empty());
  for (const auto& s : r.samples) {
    EXPECT_FALSE(s.tokens.empty());
    EXPECT_LE(int64_t(s.tokens.size()), 24);
    ASSERT_EQ(s.token_ms.size(), s.tokens.size());
    for (size_t i = 1; i < s.token_ms.size(); ++i) EXPECT_LE(s.token_ms[i - 1], s.token_ms[i]);
    EXPECT_FALSE(s.stats.timeline.empty());
    EXPECT_EQ(s.stats.strategy, r.variants[size_t(&s - r.samples.data()) % 3].strategy);
    EXPECT_EQ(s.seed, bench::sample_seed(42, s.dataset, s.index, s.rep));
  }
  // At temperature 0 every strategy emits the tokens of ar.
  for (size_t i = 0; i < r.samples.size(); i += 3) {
    EXPECT_EQ(r.samples[i + 1].tokens, r.samples[i].tokens);
    EXPECT_EQ(r.samples[i + 2].tokens, r.samples[i].tokens);
  }
  ASSERT_EQ(r.pairs.size(), 1u);
  EXPECT_GT(r.pairs[0].target_bytes_per_token, 0u);
  EXPECT_EQ(r.pairs[0].devices.size(), 3u);
  // Progress: warm-ups, then every generation with increasing counts up to the total.
  ASSERT_FALSE(run.progress.empty());
  EXPECT_EQ(run.progress.front().dataset, "warm-up");
  for (size_t i = 1; i < run.progress.size(); ++i) EXPECT_LE(run.progress[i - 1].done, run.progress[i].done);
  EXPECT_EQ(run.progress.back().done, 9);
  EXPECT_EQ(run.progress.back().total, 9);
  EXPECT_EQ(run.progress.back().dataset, "finished");
}

TEST(BenchRunner, JsonIsConsistent) {
  if (backend::available_cpus().size() < 2) GTEST_SKIP() << "amusd needs 2 CPUs";
  const json doc = json::parse(small_run().doc.dump());  // survives a round trip
  for (const char* k : {"version", "machine", "config", "pairs", "datasets", "variants", "reference", "samples",
                        "table", "sweep", "mismatches"})
    EXPECT_TRUE(doc.contains(k)) << k;
  EXPECT_EQ(doc["reference"], "ar");
  EXPECT_EQ(doc["config"]["n_samples"], 2);
  EXPECT_EQ(doc["datasets"][1]["n_used"], 1);
  ASSERT_EQ(doc["samples"].size(), 9u);
  for (const auto& s : doc["samples"]) {
    EXPECT_EQ(s["tokens"].size(), s["n_generated"].get<size_t>());
    EXPECT_EQ(s["token_ms"].size(), s["tokens"].size());
    EXPECT_EQ(s["stats"]["n_generated"], s["n_generated"]);
    EXPECT_GT(s["n_prompt"].get<int>(), 0);
    EXPECT_FALSE(s["stats"]["timeline"].empty());
  }
  ASSERT_EQ(doc["table"].size(), 6u);  // 2 datasets x 3 variants
  ASSERT_EQ(doc["sweep"].size(), 3u);
  for (const auto& row : doc["table"]) {
    int64_t tokens = 0;
    for (const auto& s : doc["samples"])
      if (s["dataset"] == row["dataset"] && s["variant"] == row["variant"]) tokens += s["n_generated"].get<int64_t>();
    EXPECT_EQ(row["tokens"].get<int64_t>(), tokens);
    EXPECT_GT(row["speedup"].get<double>(), 0);
    if (row["variant"] == "ar") EXPECT_DOUBLE_EQ(row["speedup"].get<double>(), 1.0);
    else EXPECT_GT(row["drafted"].get<int64_t>(), 0);
  }
}

TEST(BenchRunner, ReportsAMismatchWhenTokensDiffer) {
  // The check itself: feed a deliberately different run (the real strategies never differ).
  auto r = small_run().results;
  ASSERT_FALSE(r.samples.empty());
  r.samples[1].tokens.back() ^= 1;
  const auto m = bench::find_mismatches(r.samples, "ar");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_NE(bench::describe(m[0], small_run().config).find("MISMATCH"), std::string::npos);
}

TEST(BenchRunner, InvalidConfigsAreRejected) {
  auto c = small_config();
  c.strategies = {"ar", "fast"};
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("unknown strategy 'fast'"), std::string::npos);
  c = small_config();
  c.strategies = {"ar", "ar"};
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("listed twice"), std::string::npos);
  c = small_config();
  c.pairs[0].draft.clear();
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("need a draft model"), std::string::npos);
  c = small_config();
  c.strategies = {"ar", "sd"};
  c.splits = {{"0", "1"}};
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("amusd is not among"), std::string::npos);
  c = small_config();
  c.datasets.clear();
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("no dataset"), std::string::npos);
  c = small_config();
  c.n_samples = 0;
  EXPECT_NE(error_of([&] { bench::validate(c); }).find("-N must be >= 1"), std::string::npos);
  c = small_config();
  c.strategies = {"ar"};
  c.engine.ctx.n_ctx = 4;  // the prompt does not fit: the error names the sample
  const std::string err = error_of([&] { bench::run_benchmark(c); });
  EXPECT_NE(err.find("warm-up"), std::string::npos) << err;
  EXPECT_NE(err.find("does not fit"), std::string::npos) << err;
}

// Checks that tags balance (void elements self-closed), attributes are quoted, and only known entities are used.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = s.find('<', i)) != std::string::npos) {
    if (s.compare(i, 9, "<!DOCTYPE") == 0) {
      i = s.find('>', i);
      continue;
    }
    const size_t end = s.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    std::string tag = s.substr(i + 1, end - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" /"));
    if (closing) {
      if (stack.empty() || stack.back() != name) return "unbalanced </" + name + "> at " + std::to_string(i);
      stack.pop_back();
    } else if (!self) {
      stack.push_back(name);
      if (name == "style") {  // raw text up to </style>
        i = s.find("</style>", end);
        if (i == std::string::npos) return "unterminated <style>";
        continue;
      }
    }
    if (std::count(tag.begin(), tag.end(), '"') % 2) return "unbalanced quotes in <" + tag + ">";
    i = end + 1;
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  for (size_t a = 0; (a = s.find('&', a)) != std::string::npos; ++a) {
    static const char* ok[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#"};
    bool known = false;
    for (const char* e : ok) known |= s.compare(a, std::strlen(e), e) == 0;
    if (!known) return "bare & at " + std::to_string(a) + ": " + s.substr(a, 12);
  }
  return "";
}

json with_probes(json doc) {
  doc["roofline"] = {{"model", "stories260K"},
                     {"rows", {{{"threads", 1}, {"cpus", "0"}, {"bandwidth", json::array()}, {"bandwidth_gb_per_s", 9.5},
                                {"best_streams", 4}, {"bytes_per_token", 1000000}, {"bound_tokens_per_second", 9500.0},
                                {"measured_tokens_per_second", 4000.0}, {"fraction_of_bound", 0.42}}}}};
  doc["verify_cost"] = {{"device", "target: cpu 0-1, 2 threads"}, {"prompt_tokens", 64}, {"prefill_ms", 3.0},
                        {"prefill_tokens_per_second", 21333.0}, {"decode_ms", 0.1}, {"decode_tokens_per_second", 10000.0},
                        {"points", {{{"n_tokens", 1}, {"ms", 0.1}, {"ratio", 1.0}},
                                    {{"n_tokens", 4}, {"ms", 0.15}, {"ratio", 1.5}}}}};
  doc["command"] = "amusd bench -m <model> & more";
  return doc;
}

TEST(BenchReport, HasTheFourFiguresAndIsWellFormed) {
  if (backend::available_cpus().size() < 2) GTEST_SKIP() << "amusd needs 2 CPUs";
  const std::string html = bench::render_report(with_probes(small_run().doc));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"fig-timeline", "fig-speedup", "fig-accepted", "fig-sweep", "fig-roofline", "fig-verify-cost"})
    EXPECT_NE(html.find(std::string("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"") + id + "\""), std::string::npos)
        << id;
  EXPECT_EQ(xml_problem(html), "");
  // Self-contained: no scripts, no external resources.
  for (const char* bad : {"<script", "http://", "https://", "src=", "@import", "url(http"}) {
    size_t pos = 0;
    while ((pos = html.find(bad, pos)) != std::string::npos) {
      // the only URL allowed is the SVG namespace
      EXPECT_EQ(html.compare(pos, 26, "http://www.w3.org/2000/svg"), 0) << bad << " at " << html.substr(pos, 60);
      pos += 1;
    }
  }
  // The timeline has device lanes with drafting and verifying bars and rollback markers' legend.
  for (const char* s : {"cpu 1 · verify", "cpu 0 · draft", "draft + verify", "verifying", "rollback", "tokens"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  EXPECT_NE(html.find("amusd bench -m &lt;model&gt; &amp; more"), std::string::npos);
}

TEST(BenchReport, WithoutRunsOrWithMissingFields) {
  // Only the probes (no datasets): still a page with their figures.
  json doc = with_probes({{"version", 1}, {"machine", bench::to_json(bench::describe_machine())}});
  const std::string html = bench::render_report(doc);
  EXPECT_NE(html.find("fig-roofline"), std::string::npos);
  EXPECT_EQ(html.find("fig-timeline"), std::string::npos);
  EXPECT_EQ(xml_problem(html), "");
  EXPECT_NE(error_of([] { bench::render_report(json::object()); }).find("cannot render the report"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering in headless Chromium

fs::path source_dir() { return fs::path(__FILE__).parent_path().parent_path(); }

bool has_chromium() {
  return std::system("command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1") == 0;
}

// Distinct pixel rows of a PNG (compared after PNG's per-row filtering, which maps a uniform image to a handful of
// identical rows), decoded with python3's zlib, so no image library is needed; -1 if it is not a valid PNG.
int distinct_rows(const std::string& png) {
  const std::string script = write_temp("png_rows.py", R"PY(
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    if kind == b"IDAT": idat += body
    pos += 12 + n
stride = 1 + w * {2: 3, 6: 4, 0: 1, 4: 2}[ctype] * depth // 8
raw = zlib.decompress(idat)
assert len(raw) == stride * h, "truncated image data"
print(len({raw[y * stride:(y + 1) * stride] for y in range(h)}))
)PY");
  const std::string out = (temp_dir() / "rows.txt").string();
  if (std::system(("python3 " + script + " " + png + " > " + out + " 2>&1").c_str()) != 0) return -1;
  return std::stoi(test::read_file(out));
}

TEST(BenchReport, RendersInHeadlessChromium) {
  if (!has_chromium()) GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium): report not rendered";
  if (backend::available_cpus().size() < 2) GTEST_SKIP() << "amusd needs 2 CPUs";
  const std::string html = write_temp("report.html", bench::render_report(with_probes(small_run().doc)));
  const std::string png = (temp_dir() / "report.png").string();
  const std::string cmd = (source_dir() / "scripts/render_report.sh").string() + " " + html + " " + png +
                          " 1400 1600 >/dev/null 2>" + (temp_dir() / "render.err").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << test::read_file((temp_dir() / "render.err").string());
  ASSERT_TRUE(fs::exists(png));
  EXPECT_GT(fs::file_size(png), 20000u);  // a blank page compresses to a few KB
  EXPECT_GT(distinct_rows(png), 200) << "the screenshot is (nearly) uniform";
}

// ---------------------------------------------------------------------------------------------------------
// Probes: bandwidth, roofline, verification cost

TEST(BenchProbes, Bandwidth) {
  auto dev = backend::make_cpu_device("bw", "", 0);
  bench::BandwidthOptions o;
  o.bytes = size_t(8) << 20;
  o.streams = {1, 4};
  o.reps = 2;
  const auto pts = bench::measure_read_bandwidth(*dev, o);
  ASSERT_EQ(pts.size(), 2u);
  for (const auto& p : pts) {
    EXPECT_EQ(p.threads, dev->n_threads());
    EXPECT_GT(p.gb_per_s, 0.1);
    EXPECT_LT(p.gb_per_s, 10000);
  }
  EXPECT_EQ(bench::best_bandwidth(pts).gb_per_s, std::max(pts[0].gb_per_s, pts[1].gb_per_s));
  o.streams = {5};
  EXPECT_NE(error_of([&] { bench::measure_read_bandwidth(*dev, o); }).find("unsupported number of streams"),
            std::string::npos);
}

TEST(BenchProbes, RooflineOnStories) {
  bench::RooflineOptions o;
  o.bandwidth.bytes = size_t(8) << 20;
  o.bandwidth.reps = 1;
  o.n_tokens = 8;
  o.reps = 1;
  const auto rows = bench::measure_roofline(model("stories260K"), o);
  ASSERT_EQ(rows.size(), std::min<size_t>(2, backend::available_cpus().size()));
  EXPECT_EQ(rows[0].threads, 1);
  for (const auto& r : rows) {
    EXPECT_GT(r.bytes_per_token, 0u);
    EXPECT_GT(r.bound_tps, 0);
    EXPECT_GT(r.measured_tps, 0);
    EXPECT_NEAR(r.bound_tps, r.best.gb_per_s * 1e9 / double(r.bytes_per_token), 1e-6 * r.bound_tps);
  }
  EXPECT_NE(bench::format_roofline(rows, "stories260K").find("of bound"), std::string::npos);
  EXPECT_TRUE(bench::to_json(rows[0]).contains("fraction_of_bound"));
}

TEST(BenchProbes, VerifyCostOnStories) {
  const auto m = model::Model::load(model("stories260K"));
  auto dev = backend::make_cpu_device("target", "", 0);
  bench::VerifyCostOptions o;
  o.prompt_tokens = 16;
  o.batch_sizes = {1, 2, 4};
  o.warmup = 1;
  o.reps = 3;
  const auto v = bench::measure_verify_cost(*m, *dev, {}, o);
  EXPECT_GT(v.prefill_ms, 0);
  EXPECT_GT(v.decode_ms, 0);
  EXPECT_GT(v.decode_tps(), 0);
  ASSERT_EQ(v.points.size(), 3u);
  for (const auto& p : v.points) {
    EXPECT_GT(p.ms, 0);
    EXPECT_NEAR(p.ratio, p.ms / v.decode_ms, 1e-9);
  }
  EXPECT_NE(bench::format_verify_cost(v, "stories260K").find("cost vs 1 decode step"), std::string::npos);
  o.prompt_tokens = 100000;
  EXPECT_NE(error_of([&] { bench::measure_verify_cost(*m, *dev, {}, o); }).find("does not fit"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------
// The command line

struct CliResult {
  int code = -1;
  std::string out, err;
};

CliResult amusd_cli(const std::string& args) {
  const std::string out = (temp_dir() / "cli.out").string(), err = (temp_dir() / "cli.err").string();
  const int status = std::system((test::amusd_binary() + " " + args + " >" + out + " 2>" + err).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, test::read_file(out), test::read_file(err)};
}

TEST(BenchCli, RunsWritesJsonAndReport) {
  if (backend::available_cpus().size() < 2) GTEST_SKIP() << "amusd needs 2 CPUs";
  const std::string json_path = (temp_dir() / "cli.json").string(), html = (temp_dir() / "cli.html").string();
  const CliResult r = amusd_cli("bench -m " + model("stories260K") + " -md " + model("stories260K-draft") +
                                " --dataset " + test::shared_path("datasets/stories-prompts.txt") + " --dataset " +
                                test::shared_path("datasets/mt_bench.jsonl") +
                                " -N 1 -n 16 --split 0:1 --draft-max 4 --json " + json_path + " --report " + html);
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s : {"stories-prompts", "mt_bench", "amusd[0:1]", "speedup", "every strategy emitted exactly"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.err.find("["), std::string::npos) << "no progress bar when stderr is not a terminal:\n" << r.err;
  const json doc = json::parse(test::read_file(json_path));
  EXPECT_EQ(doc["samples"].size(), 6u);
  EXPECT_NE(doc["command"].get<std::string>().find("--split 0:1"), std::string::npos);
  EXPECT_NE(test::read_file(html).find("fig-sweep"), std::string::npos);
  // Re-render from the saved JSON.
  const std::string html2 = (temp_dir() / "cli2.html").string();
  const CliResult again = amusd_cli("bench --from-json " + json_path + " --report " + html2);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(xml_problem(test::read_file(html2)), "");
}

TEST(BenchCli, VerifyCostForChosenBatchSizes) {
  const CliResult r = amusd_cli("bench -m " + model("stories260K") + " --verify-cost --verify-k 3,1 --verify-reps 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("cost vs 1 decode step"), std::string::npos) << r.out;
  std::istringstream lines(r.out);
  std::vector<std::string> ks;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string k, ms;
    if (words >> k >> ms && k.find_first_not_of("0123456789") == std::string::npos) ks.push_back(k);
  }
  EXPECT_EQ(ks, (std::vector<std::string>{"3", "1"})) << r.out;
}

TEST(BenchCli, ProgressOnRequest) {
  const CliResult r = amusd_cli("bench -m " + model("stories260K") + " --dataset " +
                                test::shared_path("datasets/stories-prompts.txt") + " -N 2 -n 8 --progress");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("2/2 (100%)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stories-prompts"), std::string::npos) << r.err;
}

TEST(BenchCli, ErrorsAreClear) {
  const std::string m = " -m " + model("stories260K");
  const std::string pair = m + " -md " + model("stories260K-draft");
  const std::string ds = " --dataset " + test::shared_path("datasets/stories-prompts.txt");
  const std::string bad_jsonl = write_temp("bad.jsonl", "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"bench" + ds, "missing -m"},
      {"bench" + m, "nothing to do"},
      {"bench" + m + " --dataset /nonexistent.jsonl", "cannot read dataset '/nonexistent.jsonl'"},
      {"bench" + m + " --dataset " + bad_jsonl, "bad.jsonl:2: no \"prompt\""},
      {"bench" + pair + ds + " --strategies ar,fast", "unknown strategy 'fast'"},
      {"bench" + m + ds + " --strategies ar,sd", "need a draft model"},
      {"bench" + pair + ds + " --strategies ar,sd --split 0:1", "amusd is not among"},
      {"bench" + pair + ds + " --split 0", "expected DRAFT_CPUS:VERIFY_CPUS"},
      {"bench" + pair + ds + " --split 0:0", "in both sets"},
      {"bench" + pair + ds + " --pair onlyone.gguf", "--pair"},
      {"bench" + pair + ds + " -N 0", "-N must be >= 1"},
      {"bench" + pair + ds + " --reps 0", "--reps"},
      {"bench" + pair + ds + " --strategies ar,", "empty item"},
      {"bench" + pair + ds + " --kv-type q4_0", "--kv-type"},
      {"bench" + m + " --verify-cost --verify-k 1,x", "--verify-k: each K must be an integer in 1..256, got 'x'"},
      {"bench" + m + " --verify-cost --verify-k 0", "got '0'"},
      {"bench" + m + " --verify-cost --verify-k 4,", "empty item"},
      {"bench --from-json /nonexistent.json --report x.html", "cannot read"},
      {"bench --from-json " + bad_jsonl, "--from-json needs --report"},
  };
  for (const auto& [args, msg] : cases) {
    const CliResult r = amusd_cli(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_LT(r.code, 128) << args << " crashed";
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << "\nstderr: " << r.err;
  }
}

}  // namespace
}  // namespace amusd
