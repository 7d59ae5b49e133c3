#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>

#include "core/error.h"
#include "sampling/sampler.h"

namespace amusd::sampling {
namespace {

std::vector<float> logits_of(std::vector<float> probs) {
  std::vector<float> l;
  for (float p : probs) l.push_back(p > 0 ? std::log(p) : -1e9f);
  return l;
}

float sum(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.f); }

TEST(Sampler, GreedyIsOneHotOnArgmaxLowestIdOnTies) {
  SamplerParams p;
  p.temperature = 0;
  Distribution d;
  distribution(std::vector<float>{1, 3, 3, 2}, p, d);
  EXPECT_EQ(d.argmax, 1);
  EXPECT_EQ(d.probs, (std::vector<float>{0, 1, 0, 0}));
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{1, 3, 3, 2}), 1);
}

TEST(Sampler, TemperatureOneNoFiltersIsSoftmax) {
  SamplerParams p{1.f, 0, 1.f, 0.f, 1};
  Distribution d;
  distribution(logits_of({0.1f, 0.2f, 0.3f, 0.4f}), p, d);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(d.probs[i], 0.1f * (i + 1), 1e-6);
}

TEST(Sampler, TopK) {
  SamplerParams p{1.f, 2, 1.f, 0.f, 1};
  Distribution d;
  distribution(logits_of({0.1f, 0.2f, 0.3f, 0.4f}), p, d);
  EXPECT_EQ(d.probs[0], 0.f);
  EXPECT_EQ(d.probs[1], 0.f);
  EXPECT_NEAR(d.probs[2], 3.f / 7, 1e-6);
  EXPECT_NEAR(d.probs[3], 4.f / 7, 1e-6);
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  SamplerParams p{1.f, 0, 0.65f, 0.f, 1};
  Distribution d;
  distribution(logits_of({0.1f, 0.2f, 0.3f, 0.4f}), p, d);  // 0.4 + 0.3 = 0.7 >= 0.65
  EXPECT_EQ(d.probs[1], 0.f);
  EXPECT_NEAR(d.probs[3], 4.f / 7, 1e-6);
  EXPECT_NEAR(sum(d.probs), 1.f, 1e-6);
}

TEST(Sampler, MinPRelativeToMax) {
  SamplerParams p{1.f, 0, 1.f, 0.5f, 1};
  Distribution d;
  distribution(logits_of({0.1f, 0.2f, 0.3f, 0.4f}), p, d);  // keep p >= 0.2
  EXPECT_EQ(d.probs[0], 0.f);
  EXPECT_NEAR(d.probs[1], 2.f / 9, 1e-6);
}

TEST(Sampler, TemperatureAppliedAfterFilters) {
  // Top-p on the untempered distribution keeps {3, 2}; temperature 2 then flattens what is left.
  SamplerParams p{2.f, 0, 0.65f, 0.f, 1};
  Distribution d;
  distribution(logits_of({0.1f, 0.2f, 0.3f, 0.4f}), p, d);
  const float a = std::sqrt(0.3f), b = std::sqrt(0.4f);
  EXPECT_NEAR(d.probs[2], a / (a + b), 1e-6);
  EXPECT_NEAR(d.probs[3], b / (a + b), 1e-6);
}

TEST(Sampler, DrawMatchesDistribution) {
  Distribution d;
  d.probs = {0.5f, 0.f, 0.25f, 0.25f};
  d.argmax = 0;
  Rng rng(42);
  std::map<int, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) counts[draw(d, rng)]++;
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.25, 0.015);
}

TEST(Sampler, SeedIsDeterministic) {
  SamplerParams p{0.9f, 40, 0.95f, 0.05f, 1234};
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(float(i)) * 3;
  Sampler a(p), b(p);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample(logits), b.sample(logits));
}

TEST(Sampler, RejectsBadParams) {
  EXPECT_THROW(validate({1.f, 0, 1.5f, 0.f, 0}), Error);
  EXPECT_THROW(validate({1.f, 0, 1.f, -0.1f, 0}), Error);
  EXPECT_THROW(validate({1.f, -1, 1.f, 0.f, 0}), Error);
  EXPECT_THROW(validate({NAN, 0, 1.f, 0.f, 0}), Error);
}

TEST(Rng, UniformInUnitInterval) {
  Rng r(7);
  double mean = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    mean += u;
  }
  EXPECT_NEAR(mean / 100000, 0.5, 0.01);
}

}  // namespace
}  // namespace amusd::sampling
