#include "decode/verifier.h"

namespace amusd::decode {

Verdict GreedyVerifier::verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const Token> drafts,
                               std::span<const sampling::Distribution* const>, sampling::Rng&) {
  for (size_t i = 0; i <= drafts.size(); ++i) {
    const Token best = sampling::argmax(p_logits.subspan(i * n_vocab, n_vocab));
    if (i == drafts.size() || best != drafts[i]) return {int32_t(i), best};
  }
  __builtin_unreachable();
}

Verdict RejectionVerifier::verify(std::span<const float> p_logits, int64_t n_vocab, std::span<const Token> drafts,
                                  std::span<const sampling::Distribution* const> q, sampling::Rng& rng) {
  for (size_t i = 0; i < drafts.size(); ++i) {
    sampling::distribution(p_logits.subspan(i * n_vocab, n_vocab), params_, p_);
    const Token x = drafts[i];
    const float px = p_.probs[x], qx = q[i]->probs[x];
    if (qx <= px || rng.uniform() * qx < px) continue;  // accepted with probability min(1, p(x)/q(x))

    // Rejected: sample from the residual norm(max(0, p - q)).
    residual_.probs.resize(p_.probs.size());
    double sum = 0;
    for (size_t v = 0; v < p_.probs.size(); ++v) sum += residual_.probs[v] = std::max(0.f, p_.probs[v] - q[i]->probs[v]);
    if (sum <= 0) return {int32_t(i), sampling::draw(p_, rng)};  // p == q up to rounding: p itself
    residual_.argmax = 0;
    for (size_t v = 0; v < residual_.probs.size(); ++v) {
      residual_.probs[v] = float(residual_.probs[v] / sum);
      if (residual_.probs[v] > residual_.probs[residual_.argmax]) residual_.argmax = int32_t(v);
    }
    return {int32_t(i), sampling::draw(residual_, rng)};
  }
  sampling::distribution(p_logits.subspan(drafts.size() * n_vocab, n_vocab), params_, p_);
  return {int32_t(drafts.size()), sampling::draw(p_, rng)};
}

std::unique_ptr<Verifier> make_verifier(const sampling::SamplerParams& params) {
  if (params.greedy()) return std::make_unique<GreedyVerifier>();
  return std::make_unique<RejectionVerifier>(params);
}

}  // namespace amusd::decode
