#include "bench/runner.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

#include "backend/thread_group.h"
#include "bench/token_timer.h"
#include "core/error.h"
#include "engine/session.h"

namespace amusd::bench {

// ---------------------------------------------------------------------------------------------------------
// Specs

Split parse_split(const std::string& spec) {
  const size_t colon = spec.find(':');
  AMUSD_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < spec.size() &&
                  spec.find(':', colon + 1) == std::string::npos,
              "invalid --split '", spec, "': expected DRAFT_CPUS:VERIFY_CPUS, e.g. 0:1 or 0:1-3");
  Split s{spec.substr(0, colon), spec.substr(colon + 1)};
  const std::vector<int> d = backend::parse_cpu_list(s.draft_cpus), v = backend::parse_cpu_list(s.verify_cpus);
  for (int c : d)
    AMUSD_CHECK(std::find(v.begin(), v.end(), c) == v.end(), "invalid --split '", spec, "': CPU ", c,
                " is in both sets (the draft and the verifier run at the same time)");
  return s;
}

ModelPair model_pair(const std::string& target, const std::string& draft) {
  return {target, draft, std::filesystem::path(target).stem().string()};
}

ModelPair parse_pair(const std::string& spec) {
  const size_t comma = spec.find(',');
  AMUSD_CHECK(comma != std::string::npos && comma > 0 && comma + 1 < spec.size() &&
                  spec.find(',', comma + 1) == std::string::npos,
              "invalid --pair '", spec, "': expected TARGET.gguf,DRAFT.gguf");
  return model_pair(spec.substr(0, comma), spec.substr(comma + 1));
}

void validate(const BenchConfig& c) {
  AMUSD_CHECK(!c.pairs.empty(), "no model given (-m TARGET.gguf)");
  AMUSD_CHECK(!c.datasets.empty(), "no dataset given (--dataset FILE)");
  AMUSD_CHECK(!c.strategies.empty(), "no strategy given (--strategies ar,sd,amusd)");
  std::set<std::string> seen;
  bool speculative = false;
  for (const auto& s : c.strategies) {
    AMUSD_CHECK(engine::is_strategy_name(s), "unknown strategy '", s, "' (choose among ar, sd, amusd)");
    AMUSD_CHECK(seen.insert(s).second, "strategy '", s, "' is listed twice");
    speculative |= s != "ar";
  }
  if (speculative)
    for (const auto& p : c.pairs)
      AMUSD_CHECK(!p.draft.empty(), "sd and amusd need a draft model for ", p.target, " (-md DRAFT.gguf)");
  AMUSD_CHECK(c.splits.empty() || seen.count("amusd"), "--split is given but amusd is not among the strategies");
  std::set<std::string> splits;
  for (const auto& s : c.splits) AMUSD_CHECK(splits.insert(s.label()).second, "--split ", s.label(), " is given twice");
  AMUSD_CHECK(c.n_samples >= 1, "-N must be >= 1, got ", c.n_samples);
  AMUSD_CHECK(c.max_new_tokens >= 1, "-n must be >= 1, got ", c.max_new_tokens);
  AMUSD_CHECK(c.reps >= 1 && c.reps <= 1000, "--reps must be in 1..1000, got ", c.reps);
  AMUSD_CHECK(c.warmup >= 0 && c.warmup <= 100, "--warmup must be in 0..100, got ", c.warmup);
  sampling::validate(c.sampling);
}

std::vector<Variant> variants(const BenchConfig& c) {
  std::vector<Variant> out;
  auto wants = [&](const char* s) { return std::find(c.strategies.begin(), c.strategies.end(), s) != c.strategies.end(); };
  if (wants("ar")) out.push_back({"ar", "ar", {}});
  if (wants("sd")) out.push_back({"sd", "sd", {}});
  if (wants("amusd")) {
    std::vector<Split> splits = c.splits;
    if (splits.empty()) {
      const std::vector<int> all = backend::available_cpus();
      AMUSD_CHECK(all.size() >= 2, "amusd needs at least 2 CPUs (one for the draft, one for the verifier); this "
                  "process may use ", all.size());
      splits.push_back({std::to_string(all[0]),
                        backend::format_cpu_list(std::vector<int>(all.begin() + 1, all.end()))});
    }
    for (const auto& s : splits) out.push_back({"amusd[" + s.label() + "]", "amusd", s});
  }
  return out;
}

std::string reference_variant(const std::vector<Variant>& v) {
  for (const auto& x : v)
    if (x.strategy == "ar") return x.label;
  return v.empty() ? "" : v.front().label;
}

uint64_t sample_seed(uint64_t base, int dataset, int64_t index, int rep) {
  // splitmix64 over the base seed and the sample's coordinates
  uint64_t z = base ^ (uint64_t(dataset) << 48) ^ (uint64_t(index) << 16) ^ uint64_t(rep);
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t samples_used(const BenchConfig& c, int dataset) {
  return std::min<int64_t>(c.n_samples, int64_t(c.datasets[size_t(dataset)].prompts.size()));
}

// ---------------------------------------------------------------------------------------------------------
// Mismatches

std::string describe(const Mismatch& m, const BenchConfig& c) {
  return str_cat("MISMATCH at temperature 0: ", m.variant, " differs from ", m.reference, " on ",
                 c.pairs[size_t(m.pair)].label, " / ", c.datasets[size_t(m.dataset)].name, " sample ", m.index,
                 " rep ", m.rep, " at token ", m.position, " (", m.reference, ": ", m.expected, ", ", m.variant, ": ",
                 m.got, "; lengths ", m.expected_len, " vs ", m.got_len, ")");
}

namespace {

bool same_sample(const SampleResult& a, const SampleResult& b) {
  return a.pair == b.pair && a.dataset == b.dataset && a.index == b.index && a.rep == b.rep;
}

std::optional<Mismatch> compare(const SampleResult& ref, const SampleResult& s) {
  if (s.tokens == ref.tokens) return std::nullopt;
  const auto [a, b] = std::mismatch(ref.tokens.begin(), ref.tokens.end(), s.tokens.begin(), s.tokens.end());
  Mismatch m{s.pair, s.dataset, s.index, s.rep, s.variant, ref.variant};
  m.position = a - ref.tokens.begin();
  m.expected = a == ref.tokens.end() ? -1 : *a;
  m.got = b == s.tokens.end() ? -1 : *b;
  m.expected_len = int64_t(ref.tokens.size());
  m.got_len = int64_t(s.tokens.size());
  return m;
}

}  // namespace

std::vector<Mismatch> find_mismatches(const std::vector<SampleResult>& samples, const std::string& reference) {
  std::vector<Mismatch> out;
  for (const auto& ref : samples) {
    if (ref.variant != reference) continue;
    for (const auto& s : samples)
      if (s.variant != reference && same_sample(ref, s))
        if (auto m = compare(ref, s)) out.push_back(*m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Running

namespace {

// The engines of one pair: one for ar and sd (their devices), one per amusd split.
class PairEngines {
 public:
  PairEngines(const BenchConfig& c, const ModelPair& pair, const std::vector<Variant>& variants) {
    for (const auto& v : variants) {
      const std::string key = engine_key(v);
      if (engines_.count(key)) continue;
      engine::EngineOptions o = c.engine;
      o.target_path = pair.target;
      o.draft_path = pair.draft;
      if (v.strategy == "amusd") {
        o.cpus_draft = v.split.draft_cpus;
        o.cpus_verify = v.split.verify_cpus;
      }
      engines_.emplace(key, std::make_unique<engine::Engine>(o));
    }
  }
  engine::Engine& of(const Variant& v) { return *engines_.at(engine_key(v)); }
  engine::Engine& any() { return *engines_.begin()->second; }

 private:
  static std::string engine_key(const Variant& v) { return v.strategy == "amusd" ? v.label : "ar/sd"; }
  std::map<std::string, std::unique_ptr<engine::Engine>> engines_;
};

PairInfo describe_pair(const ModelPair& pair, PairEngines& engines, const std::vector<Variant>& variants) {
  PairInfo info{pair};
  const engine::Engine& e = engines.any();
  info.target_params = e.target().n_params();
  info.target_bytes_per_token = e.target().bytes_per_token();
  if (e.draft()) {
    info.draft_params = e.draft()->n_params();
    info.draft_bytes_per_token = e.draft()->bytes_per_token();
  }
  for (const auto& v : variants) info.devices[v.label] = engines.of(v).describe(v.strategy);
  return info;
}

class Runner {
 public:
  Runner(const BenchConfig& c, const RunCallbacks& cb) : c_(c), cb_(cb), variants_(variants(c)) {
    for (size_t d = 0; d < c.datasets.size(); ++d) total_ += samples_used(c, int(d));
    total_ *= int64_t(c.pairs.size()) * c.reps * int64_t(variants_.size());
  }

  RunResults run() {
    RunResults r;
    r.variants = variants_;
    t_start_ = decode::Clock::now();
    for (size_t p = 0; p < c_.pairs.size(); ++p) run_pair(int(p), r);
    report({done_, total_, c_.pairs.back().label, "finished", ""});
    return r;
  }

 private:
  void run_pair(int p, RunResults& r) {
    const ModelPair& pair = c_.pairs[size_t(p)];
    PairEngines engines(c_, pair, variants_);
    r.pairs.push_back(describe_pair(pair, engines, variants_));
    const tok::Tokenizer& tokenizer = engines.any().target().tokenizer();
    warm_up(pair, engines, tokenizer.encode(c_.datasets[0].prompts[0], true));
    for (size_t d = 0; d < c_.datasets.size(); ++d) {
      const Dataset& ds = c_.datasets[d];
      for (int64_t i = 0; i < samples_used(c_, int(d)); ++i) {
        const std::vector<int32_t> prompt = tokenizer.encode(ds.prompts[size_t(i)], true);
        for (int rep = 0; rep < c_.reps; ++rep) run_sample(p, int(d), i, rep, prompt, engines, r);
      }
    }
  }

  void warm_up(const ModelPair& pair, PairEngines& engines, const std::vector<int32_t>& prompt) {
    engine::GenerateOptions opt = options(c_.sampling.seed);
    opt.max_new_tokens = std::min<int64_t>(c_.max_new_tokens, 16);
    for (int w = 0; w < c_.warmup; ++w)
      for (const auto& v : variants_) {
        report({done_, total_, pair.label, "warm-up", v.label});
        engine::Engine& e = engines.of(v);
        try {
          engine::Session(e.target().tokenizer(), e.strategy(v.strategy)).generate(prompt, opt);
        } catch (const Error& err) {
          fail(v.label, " on ", pair.label, " (warm-up on ", c_.datasets[0].name, " sample 0, ", prompt.size(),
               " prompt tokens): ", err.what());
        }
      }
  }

  void run_sample(int p, int d, int64_t i, int rep, const std::vector<int32_t>& prompt, PairEngines& engines,
                  RunResults& r) {
    const uint64_t seed = sample_seed(c_.sampling.seed, d, i, rep);
    const size_t first = r.samples.size();
    for (const auto& v : variants_) {
      const std::string& pair = c_.pairs[size_t(p)].label;
      const std::string& dataset = c_.datasets[size_t(d)].name;
      report({done_, total_, pair, dataset, v.label});
      try {
        r.samples.push_back(generate(engines.of(v), v, prompt, seed));
      } catch (const Error& err) {
        fail(v.label, " on ", pair, " / ", dataset, " sample ", i, " (", prompt.size(), " prompt tokens): ",
             err.what());
      }
      SampleResult& s = r.samples.back();
      s.pair = p;
      s.dataset = d;
      s.index = i;
      s.rep = rep;
      ++done_;
    }
    if (!c_.sampling.greedy()) return;
    const std::vector<SampleResult> group(r.samples.begin() + int64_t(first), r.samples.end());
    for (const Mismatch& m : find_mismatches(group, reference_variant(variants_))) {
      r.mismatches.push_back(m);
      if (cb_.mismatch) cb_.mismatch(m);
    }
  }

  SampleResult generate(engine::Engine& e, const Variant& v, const std::vector<int32_t>& prompt, uint64_t seed) {
    engine::Session session(e.target().tokenizer(), e.strategy(v.strategy));
    TokenTimer timer;
    timer.start();
    engine::Result res = session.generate(prompt, options(seed), &timer);
    SampleResult s;
    s.variant = v.label;
    s.seed = seed;
    s.tokens = std::move(res.tokens);
    s.token_ms = timer.token_ms();
    s.text = std::move(res.text);
    s.stop_reason = std::string(engine::stop_reason_name(res.reason));
    s.stats = std::move(res.stats);
    return s;
  }

  engine::GenerateOptions options(uint64_t seed) const {
    engine::GenerateOptions opt;
    opt.max_new_tokens = c_.max_new_tokens;
    opt.sampling = c_.sampling;
    opt.sampling.seed = seed;
    opt.ignore_eos = c_.ignore_eos;
    return opt;
  }

  void report(Progress p) {
    if (!cb_.progress) return;
    p.elapsed_s = decode::ms_between(t_start_, decode::Clock::now()) / 1000.0;
    p.eta_s = done_ > 0 ? p.elapsed_s / double(done_) * double(total_ - done_) : -1;
    cb_.progress(p);
  }

  const BenchConfig& c_;
  const RunCallbacks& cb_;
  std::vector<Variant> variants_;
  int64_t total_ = 0, done_ = 0;
  decode::Clock::time_point t_start_;
};

}  // namespace

RunResults run_benchmark(const BenchConfig& config, const RunCallbacks& callbacks) {
  validate(config);
  return Runner(config, callbacks).run();
}

}  // namespace amusd::bench
