// Verifiers decide how many drafted tokens the target accepts and which token it adds. Interchangeable objects:
// greedy (temperature 0) and rejection sampling (temperature > 0), both exact w.r.t. the target.
#pragma once

#include <memory>
#include <span>

#include "decode/strategy.h"
#include "sampling/sampler.h"

namespace amusd::decode {

struct Verdict {
  int32_t n_accepted = 0;  // drafts[0..n_accepted) are accepted
  Token next = -1;         // the target's token after them (a correction, or a bonus when all were accepted)
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  // p_logits: K+1 rows of n_vocab target logits; row i is the target's prediction after the accepted prefix and
  // drafts[0..i). drafts: K tokens; q: their draft distributions (each the exact distribution the draft sampled
  // from; unused by the greedy verifier). Returns at least the target's own next token (n_accepted may be 0).
  virtual Verdict verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const Token> drafts,
                         std::span<const sampling::Distribution* const> q, sampling::Rng& rng) = 0;
};

// Temperature 0: accept while the draft equals the target's argmax; then emit the target's argmax.
class GreedyVerifier final : public Verifier {
 public:
  Verdict verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const Token> drafts,
                 std::span<const sampling::Distribution* const> q, sampling::Rng& rng) override;
};

// Speculative (rejection) sampling (Leviathan et al. 2023; Chen et al. 2023): accept draft x with probability
// min(1, p(x) / q(x)); at the first rejection sample from norm(max(0, p - q)); if all are accepted sample a bonus
// token from p. p is the target's distribution under the same sampling parameters as q.
class RejectionVerifier final : public Verifier {
 public:
  explicit RejectionVerifier(const sampling::SamplerParams& params) : params_(params) {}
  Verdict verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const Token> drafts,
                 std::span<const sampling::Distribution* const> q, sampling::Rng& rng) override;

 private:
  sampling::SamplerParams params_;
  sampling::Distribution p_;
  sampling::Distribution residual_;
};

// The verifier for these sampling parameters: greedy at temperature 0, rejection sampling otherwise.
std::unique_ptr<Verifier> make_verifier(const sampling::SamplerParams& params);

}  // namespace amusd::decode
