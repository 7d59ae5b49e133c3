// The invariant above all: at temperature 0, sd and amusd emit exactly the tokens of ar, whatever the draft.
#include <gtest/gtest.h>

#include "core/error.h"
#include "spec_fixtures.h"

namespace amusd {
namespace {

using test::devices;
using test::greedy;
using test::load_shared;
using test::run;

std::vector<std::string> prompts_of(const std::string& ref) {
  std::vector<std::string> out;
  for (const auto& r : test::read_jsonl(test::shared_path("reference/" + ref + ".greedy.jsonl")))
    out.push_back(r["prompt"].get<std::string>());
  return out;
}

struct Pair {
  const char* name;
  const char* target;
  const char* draft;       // nullptr: the random draft; same as target: self-draft
  const char* reference;   // prompts
  int64_t n_tokens;
};

void PrintTo(const Pair& p, std::ostream* os) { *os << p.name; }

const model::Model& draft_of(const Pair& p) {
  return p.draft ? load_shared(p.draft) : test::random_stories_draft();
}

class GreedyEquivalence : public ::testing::TestWithParam<Pair> {};

// sd with fixed K, adaptive K and early stopping, on one device.
TEST_P(GreedyEquivalence, SyncMatchesAutoregressive) {
  const Pair p = GetParam();
  const model::Model& target = load_shared(p.target);
  decode::Autoregressive ar(target, *devices().all);
  std::vector<decode::SpecOptions> configs = {{1}, {4}, {8}, {6, true}, {8, false, 0.5f}};
  std::vector<std::unique_ptr<decode::SpeculativeSync>> sds;
  for (const auto& c : configs)
    sds.push_back(std::make_unique<decode::SpeculativeSync>(target, draft_of(p), *devices().all,
                                                            model::ContextOptions{}, c));
  int64_t drafted = 0, accepted = 0;
  for (const std::string& prompt : prompts_of(p.reference)) {
    SCOPED_TRACE(prompt);
    const engine::Result expected = run(ar, target, prompt, greedy(p.n_tokens));
    for (size_t i = 0; i < sds.size(); ++i) {
      const engine::Result r = run(*sds[i], target, prompt, greedy(p.n_tokens));
      EXPECT_EQ(r.tokens, expected.tokens) << "config " << i;
      EXPECT_EQ(r.text, expected.text) << "config " << i;
      EXPECT_EQ(r.reason, expected.reason);
      drafted += r.stats.n_drafted;
      accepted += r.stats.n_accepted;
    }
  }
  std::printf("%s sd: acceptance %.1f%% (%lld of %lld)\n", p.name, 100.0 * accepted / std::max<int64_t>(1, drafted),
              static_cast<long long>(accepted), static_cast<long long>(drafted));
}

// amusd with the draft and the verifier on different CPUs, both ways round, several K and look-aheads.
TEST_P(GreedyEquivalence, AsyncMatchesAutoregressive) {
  if (!devices().two_cpus) GTEST_SKIP() << "amusd needs two CPUs";
  const Pair p = GetParam();
  const model::Model& target = load_shared(p.target);
  decode::Autoregressive ar(target, *devices().all);
  struct Split {
    backend::CpuDevice* verify;
    backend::CpuDevice* draft;
    decode::SpecOptions spec;
  };
  const std::vector<Split> splits = {{devices().second.get(), devices().first.get(), {8}},
                                     {devices().first.get(), devices().second.get(), {2}},
                                     {devices().second.get(), devices().first.get(), {4, false, 0, 32}},
                                     {devices().second.get(), devices().first.get(), {1, false, 0, 1}}};
  std::vector<std::unique_ptr<decode::Amusd>> strategies;
  for (const auto& s : splits)
    strategies.push_back(std::make_unique<decode::Amusd>(target, *s.verify, draft_of(p), *s.draft,
                                                         model::ContextOptions{}, s.spec));
  int64_t drafted = 0, accepted = 0, rollbacks = 0;
  for (const std::string& prompt : prompts_of(p.reference)) {
    SCOPED_TRACE(prompt);
    const engine::Result expected = run(ar, target, prompt, greedy(p.n_tokens));
    for (size_t i = 0; i < strategies.size(); ++i) {
      const engine::Result r = run(*strategies[i], target, prompt, greedy(p.n_tokens));
      EXPECT_EQ(r.tokens, expected.tokens) << "split " << i;
      EXPECT_EQ(r.text, expected.text) << "split " << i;
      drafted += r.stats.n_drafted;
      accepted += r.stats.n_accepted;
      rollbacks += r.stats.n_rollbacks;
    }
  }
  std::printf("%s amusd: acceptance %.1f%% (%lld of %lld), %lld rollbacks\n", p.name,
              100.0 * accepted / std::max<int64_t>(1, drafted), static_cast<long long>(accepted),
              static_cast<long long>(drafted), static_cast<long long>(rollbacks));
}

INSTANTIATE_TEST_SUITE_P(
    Pairs, GreedyEquivalence,
    ::testing::Values(Pair{"stories", "stories260K", "stories260K-draft", "stories260K", 128},
                      Pair{"stories_random_draft", "stories260K", nullptr, "stories260K", 64},
                      Pair{"stories_self_draft", "stories260K", "stories260K", "stories260K", 64},
                      Pair{"mini_q8_0", "mini-target-q8_0", "mini-draft-q8_0", "mini-target-q8_0", 64},
                      Pair{"mini_q4_k_m", "mini-target-q4_k_m", "mini-draft-f16", "mini-target-q4_k_m", 64},
                      Pair{"mini_f16", "mini-target-f16", "mini-draft-f16", "mini-target-f16", 64}),
    [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------------------
// Limits, end of generation, stop strings.

std::vector<std::unique_ptr<decode::Strategy>> all_strategies(const model::Model& target, const model::Model& draft,
                                                              decode::SpecOptions spec = {8}) {
  std::vector<std::unique_ptr<decode::Strategy>> out;
  out.push_back(std::make_unique<decode::Autoregressive>(target, *devices().all));
  out.push_back(std::make_unique<decode::SpeculativeSync>(target, draft, *devices().all, model::ContextOptions{}, spec));
  if (devices().two_cpus)
    out.push_back(std::make_unique<decode::Amusd>(target, *devices().second, draft, *devices().first,
                                                  model::ContextOptions{}, spec));
  return out;
}

TEST(Limits, NeverExceedsMaxNewTokens) {
  const auto& target = load_shared("stories260K");
  // Self-draft: every draft is accepted, so each verification could emit K + 1 tokens past the limit.
  auto strategies = all_strategies(target, target);
  for (int64_t n : {1, 2, 3, 5, 9, 17, 40})
    for (auto& s : strategies) {
      const engine::Result r = run(*s, target, "Once upon a time", greedy(n));
      EXPECT_EQ(int64_t(r.tokens.size()), n) << s->name() << " n=" << n;
      EXPECT_EQ(r.reason, engine::StopReason::Length);
    }
}

TEST(Limits, StopsAtFirstEndOfGeneration) {
  // stories260K never emits EOS, so use copies of the pair whose EOS is "." : every sentence ends generation, and a
  // verified batch often runs past the first "." -- nothing after it may be emitted.
  const auto& target = test::with_eos_piece("stories260K", ".");
  const auto& draft = test::with_eos_piece("stories260K-draft", ".");
  const int32_t eos = target.tokenizer().eos();
  auto strategies = all_strategies(target, draft);
  for (const std::string& prompt : prompts_of("stories260K")) {
    SCOPED_TRACE(prompt);
    engine::Result expected;
    for (auto& s : strategies) {
      const engine::Result r = run(*s, target, prompt, greedy(200));
      EXPECT_EQ(r.reason, engine::StopReason::EndOfGeneration) << s->name();
      EXPECT_EQ(std::count(r.tokens.begin(), r.tokens.end(), eos), 0) << s->name();
      if (s->name() == "ar") expected = r;
      else EXPECT_EQ(r.tokens, expected.tokens) << s->name();
    }
    // ignore_eos goes on past it, identically.
    engine::GenerateOptions opt = greedy(40);
    opt.ignore_eos = true;
    std::vector<int32_t> first;
    for (auto& s : strategies) {
      const engine::Result r = run(*s, target, prompt, opt);
      EXPECT_EQ(r.tokens.size(), 40u) << s->name();
      if (first.empty()) first = r.tokens;
      else EXPECT_EQ(r.tokens, first) << s->name();
    }
  }
}

TEST(Limits, StopStrings) {
  const auto& target = load_shared("stories260K");
  auto strategies = all_strategies(target, load_shared("stories260K-draft"));
  engine::GenerateOptions opt = greedy(200);
  opt.stop = {" park", "!"};
  std::string expected_text;
  for (auto& s : strategies) {
    const engine::Result r = run(*s, target, "Once upon a time", opt);
    EXPECT_EQ(r.reason, engine::StopReason::StopString) << s->name();
    EXPECT_EQ(r.text.find(" park"), std::string::npos);
    if (s->name() == "ar") expected_text = r.text;
    else EXPECT_EQ(r.text, expected_text) << s->name();
  }
  EXPECT_FALSE(expected_text.empty());
}

TEST(Compatibility, VocabularyMismatchIsAClearError) {
  const auto& target = load_shared("stories260K");
  for (const char* other : {"qwen2-tiny-f16", "llama-2-tiny-random"}) {
    try {
      decode::SpeculativeSync sd(target, load_shared(other), *devices().all, {}, {});
      FAIL() << "expected an error for draft " << other;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("vocabular"), std::string::npos) << e.what();
    }
  }
}

TEST(Compatibility, AmusdNeedsDisjointDevices) {
  const auto& target = load_shared("stories260K");
  EXPECT_THROW(decode::Amusd(target, *devices().all, load_shared("stories260K-draft"), *devices().first, {}, {}),
               Error);
}

TEST(Compatibility, RejectsImpossibleOptions) {
  const auto& target = load_shared("stories260K");
  const auto& draft = load_shared("stories260K-draft");
  EXPECT_THROW(decode::SpeculativeSync(target, draft, *devices().all, {}, {0}), Error);
  EXPECT_THROW(decode::SpeculativeSync(target, draft, *devices().all, {}, {100}), Error);
  EXPECT_THROW(decode::SpeculativeSync(target, draft, *devices().all, {}, {4, false, 1.5f}), Error);
}

TEST(Stats, CountsAreConsistent) {
  const auto& target = load_shared("stories260K");
  for (auto& s : all_strategies(target, load_shared("stories260K-draft"))) {
    const engine::Result r = run(*s, target, "Lily and Tom went to the park", greedy(64));
    const decode::Stats& st = r.stats;
    EXPECT_EQ(st.n_generated, 64);
    EXPECT_GT(st.generate_ms, 0);
    EXPECT_FALSE(st.timeline.empty());
    for (const auto& d : st.devices) EXPECT_GE(d.busy_ms, 0);
    if (s->name() == "ar") continue;
    EXPECT_GE(st.n_drafted, st.n_accepted);
    EXPECT_GT(st.n_verifications, 0);
    int64_t hist_total = 0;
    for (size_t k = 0; k < st.accepted_hist.size(); ++k) hist_total += st.accepted_hist[k];
    EXPECT_EQ(hist_total, st.n_verifications);
    EXPECT_GT(st.acceptance_rate(), 0.3) << s->name();  // the trained pair agrees about 70% of the time
  }
}

}  // namespace
}  // namespace amusd
