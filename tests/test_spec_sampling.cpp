// Temperature > 0: speculative sampling must draw from exactly the target's distribution. We enumerate the exact
// probability of every short continuation under the target, sample thousands of continuations with sd and amusd,
// and apply a chi-square goodness-of-fit test. The same test must reject deliberately biased acceptance rules.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "spec_fixtures.h"

namespace amusd {
namespace {

using test::devices;
using test::load_shared;
using Seq = std::vector<int32_t>;

// P(continuation) for every continuation of n tokens with non-zero probability.
void enumerate(model::Context& ctx, const Seq& prefix, size_t n, const sampling::SamplerParams& sp, double prob,
               Seq& cont, std::map<Seq, double>& out) {
  if (cont.size() == n) {
    out[cont] += prob;
    return;
  }
  ctx.clear();
  Seq all = prefix;
  all.insert(all.end(), cont.begin(), cont.end());
  const auto logits = ctx.eval(all, model::Logits::Last);
  sampling::Distribution d;
  sampling::distribution(logits, sp, d);
  for (size_t t = 0; t < d.probs.size(); ++t) {
    if (d.probs[t] <= 0) continue;
    cont.push_back(int32_t(t));
    enumerate(ctx, prefix, n, sp, prob * d.probs[t], cont, out);
    cont.pop_back();
  }
}

struct ChiSquare {
  double stat = 0;
  double critical = 0;
  int df = 0;
};

// Goodness of fit of observed counts to exact probabilities; cells expected below 5 are pooled. The critical value
// is the chi-square quantile at a false-failure rate of 1e-4 (Wilson-Hilferty approximation).
ChiSquare chi_square(const std::map<Seq, double>& exact, const std::map<Seq, int>& observed, int n) {
  ChiSquare r;
  double pooled_e = 0, pooled_o = 0;
  int cells = 0;
  for (const auto& [seq, p] : exact) {
    const double e = p * n;
    const auto it = observed.find(seq);
    const double o = it == observed.end() ? 0 : it->second;
    if (e < 5) {
      pooled_e += e;
      pooled_o += o;
      continue;
    }
    r.stat += (o - e) * (o - e) / e;
    ++cells;
  }
  int unexpected = 0;
  for (const auto& [seq, c] : observed)
    if (!exact.count(seq)) unexpected += c;  // a continuation the target can never produce
  pooled_o += unexpected;
  if (pooled_e > 0) {
    r.stat += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    ++cells;
  } else if (unexpected > 0) {
    r.stat = INFINITY;
  }
  r.df = cells - 1;
  const double z = 3.719;  // one-sided normal quantile for 1e-4
  const double k = r.df;
  r.critical = k * std::pow(1 - 2 / (9 * k) + z * std::sqrt(2 / (9 * k)), 3);
  return r;
}

// A wrong rule: accept every drafted token (the output then follows the draft's q, not p).
class AcceptAllVerifier final : public decode::Verifier {
 public:
  explicit AcceptAllVerifier(const sampling::SamplerParams& sp) : sp_(sp) {}
  decode::Verdict verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const decode::Token> drafts,
                         std::span<const sampling::Distribution* const>, sampling::Rng& rng) override {
    sampling::distribution(p_logits.subspan(drafts.size() * n_vocab, n_vocab), sp_, p_);
    return {int32_t(drafts.size()), sampling::draw(p_, rng)};
  }

 private:
  sampling::SamplerParams sp_;
  sampling::Distribution p_;
};

// A subtler wrong rule: correct acceptance test, but a rejected token is replaced by a sample from p instead of the
// residual norm(max(0, p - q)).
class ResampleFromPVerifier final : public decode::Verifier {
 public:
  explicit ResampleFromPVerifier(const sampling::SamplerParams& sp) : sp_(sp) {}
  decode::Verdict verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const decode::Token> drafts,
                         std::span<const sampling::Distribution* const> q, sampling::Rng& rng) override {
    for (size_t i = 0; i <= drafts.size(); ++i) {
      sampling::distribution(p_logits.subspan(i * n_vocab, n_vocab), sp_, p_);
      if (i == drafts.size()) break;
      const float px = p_.probs[drafts[i]], qx = q[i]->probs[drafts[i]];
      if (rng.uniform() * qx >= px) return {int32_t(i), sampling::draw(p_, rng)};
    }
    return {int32_t(drafts.size()), sampling::draw(p_, rng)};
  }

 private:
  sampling::SamplerParams sp_;
  sampling::Distribution p_;
};

struct SamplingCase {
  const char* name;
  sampling::SamplerParams sp;
  size_t n_tokens;        // continuation length whose distribution is tested
  int n_samples;
  bool check_power;       // also check that biased verifiers are caught
};

class Lossless : public ::testing::TestWithParam<SamplingCase> {};

ChiSquare sample_and_test(decode::Strategy& s, const model::Model& target, const Seq& prompt,
                          const std::map<Seq, double>& exact, const SamplingCase& setup) {
  engine::Session session(target.tokenizer(), s);
  std::map<Seq, int> observed;
  for (int i = 0; i < setup.n_samples; ++i) {
    engine::GenerateOptions opt;
    // The first token always comes from the prompt's logits; one token more than counted leaves room for drafts,
    // so every counted token after the first is produced by verification.
    opt.max_new_tokens = int64_t(setup.n_tokens) + 1;
    opt.sampling = setup.sp;
    opt.sampling.seed = 1000003ull * uint64_t(i) + 17;
    opt.ignore_eos = true;
    Seq tokens = session.generate(prompt, opt).tokens;
    tokens.resize(setup.n_tokens);
    observed[tokens]++;
  }
  return chi_square(exact, observed, setup.n_samples);
}

TEST_P(Lossless, SpeculativeSamplingMatchesTarget) {
  const SamplingCase setup = GetParam();
  const auto& target = load_shared("stories260K");
  const auto& draft = load_shared("stories260K-draft");
  // A prompt after which target and draft are both uncertain: rejections are frequent, so a biased rule shows up
  // (after "Once upon a time" both are nearly certain of ", there", and the test would have little power).
  const Seq prompt = target.tokenizer().encode("She saw a", true);
  std::map<Seq, double> exact;
  {
    model::Context ctx(target, *devices().all);
    Seq cont;
    enumerate(ctx, prompt, setup.n_tokens, setup.sp, 1.0, cont, exact);
  }
  double total = 0;
  for (const auto& [s, p] : exact) total += p;
  ASSERT_NEAR(total, 1.0, 1e-4);

  auto report = [&](const char* what, const ChiSquare& c) {
    std::printf("%s %-28s chi2 = %8.1f  df = %3d  critical(1e-4) = %6.1f\n", setup.name, what, c.stat, c.df, c.critical);
  };
  decode::SpecOptions spec{4};
  {
    decode::Autoregressive ar(target, *devices().all);
    const ChiSquare c = sample_and_test(ar, target, prompt, exact, setup);
    report("ar", c);
    EXPECT_LT(c.stat, c.critical) << "ar";
  }
  {
    decode::SpeculativeSync sd(target, draft, *devices().all, {}, spec);
    const ChiSquare c = sample_and_test(sd, target, prompt, exact, setup);
    report("sd", c);
    EXPECT_LT(c.stat, c.critical) << "sd";
  }
  if (devices().two_cpus) {
    decode::Amusd amusd(target, *devices().second, draft, *devices().first, {}, spec);
    const ChiSquare c = sample_and_test(amusd, target, prompt, exact, setup);
    report("amusd", c);
    EXPECT_LT(c.stat, c.critical) << "amusd";
  }
  if (!setup.check_power) return;
  // The test has the power to catch biased implementations.
  {
    decode::SpeculativeSync wrong(target, draft, *devices().all, {}, spec);
    wrong.set_verifier_for_testing(std::make_unique<AcceptAllVerifier>(setup.sp));
    const ChiSquare c = sample_and_test(wrong, target, prompt, exact, setup);
    report("sd, accept-all (biased)", c);
    EXPECT_GT(c.stat, c.critical) << "the test did not detect an accept-all verifier";
  }
  {
    decode::SpeculativeSync wrong(target, draft, *devices().all, {}, spec);
    wrong.set_verifier_for_testing(std::make_unique<ResampleFromPVerifier>(setup.sp));
    const ChiSquare c = sample_and_test(wrong, target, prompt, exact, setup);
    report("sd, resample-from-p (biased)", c);
    EXPECT_GT(c.stat, c.critical) << "the test did not detect resampling from p";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Samplers, Lossless,
    ::testing::Values(SamplingCase{"topk3_t1", {1.0f, 3, 1.f, 0.f, 0}, 2, 2000, true},
                      SamplingCase{"defaults", {0.8f, 40, 0.95f, 0.05f, 0}, 3, 2000, false},
                      SamplingCase{"topk8_t1_5", {1.5f, 8, 1.f, 0.f, 0}, 2, 2000, false}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace amusd
