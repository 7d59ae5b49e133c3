// The benchmark runner: every (pair, dataset, sample, repetition, variant) generation goes through Engine + Session,
// the one generation path the CLI uses; a TokenTimer streamer timestamps every token.
//
// Order: for each pair, untimed warm-up generations of every variant, then for each dataset, sample and repetition,
// every variant in turn (interleaved, so slow drifts of the machine hit all variants alike). At temperature 0 every
// variant's tokens are compared with the reference's (ar, else the first variant): a mismatch is a bug.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bench/dataset.h"
#include "decode/stats.h"
#include "engine/engine.h"
#include "sampling/sampler.h"

namespace amusd::bench {

// An amusd device split: the draft's CPUs and the verifier's CPUs (disjoint).
struct Split {
  std::string draft_cpus;    // CPU list: "0", "0-1", "2,3"
  std::string verify_cpus;
  std::string label() const { return draft_cpus + ":" + verify_cpus; }
};
// "DRAFT_CPUS:VERIFY_CPUS" -> Split. Throws Error for a malformed spec or CPUs this process may not use.
Split parse_split(const std::string& spec);

struct ModelPair {
  std::string target, draft;   // paths; an empty draft allows only ar
  std::string label;           // the target's file stem, for tables and the sweep
};
// "TARGET,DRAFT" -> ModelPair. Throws Error for a malformed spec.
ModelPair parse_pair(const std::string& spec);
ModelPair model_pair(const std::string& target, const std::string& draft);

// One row of the table: a strategy on its devices.
struct Variant {
  std::string label;      // "ar", "sd", "amusd[0:1]"
  std::string strategy;   // "ar", "sd", "amusd"
  Split split;            // amusd only
};

struct BenchConfig {
  std::vector<ModelPair> pairs;              // [0]: the main pair (-m / -md); more for the sweep (--pair)
  std::vector<Dataset> datasets;
  std::vector<std::string> strategies = {"ar", "sd", "amusd"};
  std::vector<Split> splits;                 // amusd rows; empty: draft on the first CPU, verifier on the rest
  int64_t n_samples = 10;                    // the first N prompts of each dataset
  int64_t max_new_tokens = 128;
  int reps = 1;                              // repetitions of every sample
  int warmup = 1;                            // untimed generations per variant and pair before measuring
  bool ignore_eos = false;
  sampling::SamplerParams sampling{.temperature = 0.f, .seed = 42};  // seed: base of every sample's seed
  engine::EngineOptions engine;              // ar / sd devices, context, speculative options (paths unused)
};

// Throws Error for: no pair or dataset, unknown or repeated strategies, sd/amusd with a pair lacking a draft,
// --split without amusd, counts out of range.
void validate(const BenchConfig& c);

// The variants in table order: ar, sd, then amusd once per split. Throws Error if amusd needs a default split and
// this process has fewer than 2 CPUs.
std::vector<Variant> variants(const BenchConfig& c);

// The reference variant for the temperature-0 check: "ar" if present, else the first.
std::string reference_variant(const std::vector<Variant>& v);

// The seed of one sample (the same for every variant, so sampled runs are comparable).
uint64_t sample_seed(uint64_t base, int dataset, int64_t index, int rep);

struct SampleResult {
  int pair = 0;
  int dataset = 0;
  int64_t index = 0;               // the prompt's index in its dataset
  int rep = 0;
  std::string variant;             // Variant::label
  uint64_t seed = 0;
  std::vector<int32_t> tokens;     // generated tokens
  std::vector<double> token_ms;    // [i]: ms from the start of the generation until token i was emitted
  std::string text;
  std::string stop_reason;         // engine::stop_reason_name
  decode::Stats stats;
};

// A variant that emitted other tokens than the reference for the same sample at temperature 0.
struct Mismatch {
  int pair = 0, dataset = 0;
  int64_t index = 0;
  int rep = 0;
  std::string variant, reference;
  int64_t position = 0;            // first differing token (the shorter length if one is a prefix of the other)
  int32_t expected = -1, got = -1; // the tokens there; -1 past the end
  int64_t expected_len = 0, got_len = 0;
};
std::string describe(const Mismatch& m, const BenchConfig& c);

// Compares the tokens of every sample with the reference variant's for the same (pair, dataset, index, rep).
std::vector<Mismatch> find_mismatches(const std::vector<SampleResult>& samples, const std::string& reference);

struct PairInfo {
  ModelPair pair;
  uint64_t target_params = 0, draft_params = 0;
  uint64_t target_bytes_per_token = 0, draft_bytes_per_token = 0;
  std::map<std::string, std::string> devices;   // variant label -> its devices, described
};

struct Progress {
  int64_t done = 0, total = 0;     // measured generations
  std::string pair, dataset, variant;
  double elapsed_s = 0;
  double eta_s = -1;               // < 0: unknown yet
};

struct RunCallbacks {
  std::function<void(const Progress&)> progress;     // before every generation (warm-ups included), and at the end
  std::function<void(const Mismatch&)> mismatch;     // as soon as one is found
};

struct RunResults {
  std::vector<Variant> variants;
  std::vector<PairInfo> pairs;
  std::vector<SampleResult> samples;
  std::vector<Mismatch> mismatches;
};

// Samples used from a dataset: min(n_samples, its prompts).
int64_t samples_used(const BenchConfig& c, int dataset);

// Runs everything. Throws Error (naming the pair, dataset and sample) if a generation cannot run.
RunResults run_benchmark(const BenchConfig& config, const RunCallbacks& callbacks = {});

}  // namespace amusd::bench
