// `amusd`: asynchronous multi-device speculative decoding (McDanel 2024). The draft runs continuously on its own
// device and publishes the tokens it proposes (and, when sampling, the distribution each was drawn from); the
// verifier, on another device at the same time, repeatedly takes every published token beyond its accepted prefix
// (up to K), verifies them in one batched pass, and publishes the new accepted prefix. A draft that learns its
// tokens diverge rolls its KV cache back to the divergence point and continues from the verifier's token.
//
// Reconciliation stays off the verifier's critical path: taking drafts is a short critical section that copies K
// token ids and K pointers; if the verifier's token equals the draft's next proposal, the proposals after it stay
// published and are verified next round without waiting for the draft. Waits spin briefly, then block on a
// condition variable, so an idle device never burns a core the other needs.
#pragma once

#include <memory>

#include "decode/draft_model.h"
#include "decode/speculative.h"
#include "decode/strategy.h"
#include "decode/tracked_context.h"

namespace amusd::decode {

class Amusd final : public Strategy {
 public:
  // verify_device and draft_device must not share CPUs (checked).
  Amusd(const model::Model& target, backend::CpuDevice& verify_device, const model::Model& draft,
        backend::CpuDevice& draft_device, model::ContextOptions ctx_options, SpecOptions options);
  ~Amusd() override;
  std::string_view name() const override { return "amusd"; }
  Outcome generate(const Request& request, TokenSink& sink, Stats& stats, std::stop_token stop) override;

  void set_verifier_for_testing(std::unique_ptr<Verifier> v) { custom_verifier_ = std::move(v); }

 private:
  struct Shared;
  void draft_loop(Shared& sh, const Request& req);

  TrackedContext target_;
  DraftModel draft_;
  SpecOptions options_;
  std::unique_ptr<Verifier> custom_verifier_;
};

}  // namespace amusd::decode
