// Sampling: turns logits into the exact distribution a token is drawn from, and draws from it.
// Speculative sampling needs that distribution (p for the target, q for the draft), so it is returned, not hidden.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sampling/rng.h"

namespace amusd::sampling {

struct SamplerParams {
  float temperature = 0.8f;  // <= 0: greedy (argmax, lowest id on ties)
  int32_t top_k = 40;        // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0.f; }
};

// A probability distribution over the vocabulary: probs[id], zero for tokens the filters removed.
struct Distribution {
  std::vector<float> probs;  // [n_vocab], sums to 1
  int32_t argmax = -1;       // most probable token (lowest id on ties)
};

// Validates params; throws Error naming the bad option (e.g. top_p outside [0, 1]).
void validate(const SamplerParams& params);

// The distribution a token is drawn from given `logits`, in the reference engine's order: top-k, then top-p on the
// softmax of the remaining logits, then min-p relative to the most probable, then temperature, then softmax over
// what remains. Greedy params give a one-hot distribution on the argmax. `out` is resized to logits.size().
void distribution(std::span<const float> logits, const SamplerParams& params, Distribution& out);

// Argmax of logits (lowest id on ties).
int32_t argmax(std::span<const float> logits);

// Draws a token from `d` using one uniform number: the first id whose cumulative probability exceeds u.
int32_t draw(const Distribution& d, Rng& rng);

// Convenience: distribution + draw (greedy: argmax, no RNG use).
class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  const SamplerParams& params() const { return params_; }
  Rng& rng() { return rng_; }

  // Samples a token; `dist` (optional) receives the distribution it was drawn from.
  int32_t sample(std::span<const float> logits, Distribution* dist = nullptr);

 private:
  SamplerParams params_;
  Rng rng_;
  Distribution scratch_;
};

}  // namespace amusd::sampling
