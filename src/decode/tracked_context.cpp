#include "decode/tracked_context.h"

namespace amusd::decode {

TrackedContext::TrackedContext(const model::Model& model, backend::CpuDevice& device, model::ContextOptions options)
    : ctx_(model, device, options) {}

void TrackedContext::clear() {
  ctx_.clear();
  cached_.clear();
}

std::span<const float> TrackedContext::eval(std::span<const Token> tokens, model::Logits mode) {
  auto logits = ctx_.eval(tokens, mode);
  cached_.insert(cached_.end(), tokens.begin(), tokens.end());
  return logits;
}

void TrackedContext::truncate(int64_t n) {
  ctx_.truncate(n);
  cached_.resize(size_t(n));
}

}  // namespace amusd::decode
