// A Context that remembers which tokens its KV cache holds, so that a strategy can compare them with the accepted
// sequence and roll back only what diverges: what it already holds is never fed again.
#pragma once

#include <span>
#include <vector>

#include "decode/strategy.h"
#include "model/context.h"

namespace amusd::decode {

class TrackedContext {
 public:
  TrackedContext(const model::Model& model, backend::CpuDevice& device, model::ContextOptions options);

  model::Context& context() { return ctx_; }
  backend::CpuDevice& device() { return ctx_.device(); }
  const std::vector<Token>& cached() const { return cached_; }  // tokens in the KV cache, in order
  int64_t n_cached() const { return int64_t(cached_.size()); }
  int64_t n_ctx() const { return ctx_.n_ctx(); }

  void clear();
  // Evaluates `tokens` after the cached ones and caches them. Returns logits (see model::Context::eval).
  std::span<const float> eval(std::span<const Token> tokens, model::Logits mode);
  // Forgets cached tokens from n on.
  void truncate(int64_t n);

 private:
  model::Context ctx_;
  std::vector<Token> cached_;
};

}  // namespace amusd::decode
