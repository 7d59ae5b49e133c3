#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace amusd::sampling {

void validate(const SamplerParams& p) {
  AMUSD_CHECK(std::isfinite(p.temperature), "temperature must be a finite number");
  AMUSD_CHECK(p.top_p >= 0.f && p.top_p <= 1.f, "top-p must be in [0, 1], got ", p.top_p);
  AMUSD_CHECK(p.min_p >= 0.f && p.min_p <= 1.f, "min-p must be in [0, 1], got ", p.min_p);
  AMUSD_CHECK(p.top_k >= 0, "top-k must be >= 0, got ", p.top_k);
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = int32_t(i);
  return best;
}

namespace {

struct Candidate {
  int32_t id;
  float logit;
};

// Softmax over candidates' logits (divided by temp) into probs[], returned in candidate order.
std::vector<double> softmax_of(const std::vector<Candidate>& c, float temp) {
  std::vector<double> p(c.size());
  const float max = c.front().logit;  // candidates are sorted by logit, descending
  double sum = 0;
  for (size_t i = 0; i < c.size(); ++i) sum += p[i] = std::exp(double(c[i].logit - max) / temp);
  for (double& x : p) x /= sum;
  return p;
}

}  // namespace

void distribution(std::span<const float> logits, const SamplerParams& params, Distribution& out) {
  const size_t n = logits.size();
  out.probs.assign(n, 0.f);
  out.argmax = argmax(logits);
  if (params.greedy()) {
    out.probs[out.argmax] = 1.f;
    return;
  }

  // Candidates sorted by logit, descending (ties: lower id first, so results do not depend on the sort).
  std::vector<Candidate> c(n);
  for (size_t i = 0; i < n; ++i) c[i] = {int32_t(i), logits[i]};
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  const size_t k = params.top_k > 0 ? std::min<size_t>(size_t(params.top_k), n) : n;
  std::partial_sort(c.begin(), c.begin() + k, c.end(), by_logit);
  c.resize(k);

  if (params.top_p < 1.f) {
    const std::vector<double> p = softmax_of(c, 1.f);
    double cum = 0;
    size_t keep = c.size();
    for (size_t i = 0; i < c.size(); ++i) {
      cum += p[i];
      if (cum >= params.top_p) {
        keep = i + 1;
        break;
      }
    }
    c.resize(keep);
  }
  if (params.min_p > 0.f && c.size() > 1) {
    // p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p)
    const float threshold = c.front().logit + std::log(params.min_p);
    size_t keep = 1;
    while (keep < c.size() && c[keep].logit >= threshold) ++keep;
    c.resize(keep);
  }

  const std::vector<double> p = softmax_of(c, params.temperature);
  for (size_t i = 0; i < c.size(); ++i) out.probs[c[i].id] = float(p[i]);
}

int32_t draw(const Distribution& d, Rng& rng) {
  const double u = rng.uniform();
  double cum = 0;
  int32_t last_nonzero = d.argmax;
  for (size_t i = 0; i < d.probs.size(); ++i) {
    if (d.probs[i] <= 0.f) continue;
    cum += d.probs[i];
    last_nonzero = int32_t(i);
    if (u < cum) return int32_t(i);
  }
  return last_nonzero;  // rounding left cum slightly below 1
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) { validate(params); }

int32_t Sampler::sample(std::span<const float> logits, Distribution* dist) {
  Distribution& d = dist ? *dist : scratch_;
  if (params_.greedy() && !dist) return argmax(logits);
  distribution(logits, params_, d);
  return params_.greedy() ? d.argmax : draw(d, rng_);
}

}  // namespace amusd::sampling
