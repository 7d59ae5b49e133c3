// The draft side of speculative decoding: a small model that follows the accepted sequence and proposes the tokens
// after it, one forward pass per token, sampling each from q (its distribution under the request's sampling
// parameters) or taking its argmax at temperature 0.
#pragma once

#include <span>
#include <vector>

#include "decode/tracked_context.h"
#include "sampling/sampler.h"

namespace amusd::decode {

class DraftModel {
 public:
  DraftModel(const model::Model& model, backend::CpuDevice& device, model::ContextOptions options);

  TrackedContext& tracked() { return ctx_; }
  // The draft's sequence: the accepted tokens it knows of, then its own proposals.
  const std::vector<Token>& sequence() const { return seq_; }

  // Starts a new generation: caches the prompt.
  void start(std::span<const Token> prompt);
  // Brings the sequence in line with `accepted` (prompt + accepted tokens). Proposals that agree with it are kept
  // (they may extend beyond it); from the first disagreement on, the sequence becomes `accepted` and the KV cache is
  // rolled back to the divergence point (never re-feeding a token it holds). Returns the cached tokens dropped.
  // `agreed`: a length up to which the sequence is known to equal `accepted` (e.g. the previous accepted length),
  // so that only the new part is compared: reconciliation costs O(new tokens), not O(sequence).
  int64_t sync(std::span<const Token> accepted, size_t agreed = 0);
  // Whether one more token can be proposed without overflowing the context.
  bool can_propose() const;
  // Proposes the token after sequence() and appends it. q (optional) receives the distribution it was drawn from;
  // p_top (optional) the draft's top probability (for early stopping). Requires can_propose().
  Token propose(const sampling::SamplerParams& params, sampling::Rng& rng, sampling::Distribution* q,
                float* p_top = nullptr);

 private:
  TrackedContext ctx_;
  std::vector<Token> seq_;
  sampling::Distribution scratch_;
};

}  // namespace amusd::decode
