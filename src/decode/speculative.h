// `sd`: synchronous speculative decoding. The draft proposes up to K tokens, then the target verifies them in one
// batched forward pass; both run on the same device, in turn.
#pragma once

#include <memory>

#include "decode/draft_model.h"
#include "decode/strategy.h"
#include "decode/tracked_context.h"
#include "decode/verifier.h"

namespace amusd::decode {

struct SpecOptions {
  int32_t draft_max = 8;       // most draft tokens verified per target pass (K)
  bool adaptive = false;       // sd: K grows by 2 after a fully accepted draft, shrinks by 1 after a rejection
  float draft_p_min = 0.f;     // sd: stop drafting when the draft's top probability falls below this (0 = off)
  int32_t draft_ahead = 0;     // amusd: most tokens the draft may run ahead of the accepted prefix (0 = 2 K)
};

// Throws Error if the draft cannot serve the target: a different vocabulary (size, pieces or special tokens).
void check_compatible(const model::Model& target, const model::Model& draft);

class SpeculativeSync final : public Strategy {
 public:
  SpeculativeSync(const model::Model& target, const model::Model& draft, backend::CpuDevice& device,
                  model::ContextOptions ctx_options, SpecOptions options);
  std::string_view name() const override { return "sd"; }
  Outcome generate(const Request& request, TokenSink& sink, Stats& stats, std::stop_token stop) override;

  // Tests: replace the acceptance rule (e.g. a deliberately biased one, to check the statistical test catches it).
  void set_verifier_for_testing(std::unique_ptr<Verifier> v) { custom_verifier_ = std::move(v); }

 private:
  TrackedContext target_;
  DraftModel draft_;
  SpecOptions options_;
  std::unique_ptr<Verifier> custom_verifier_;
};

}  // namespace amusd::decode
