#include "decode/tracked_context.h"

#include <algorithm>

namespace amusd::decode {

TrackedContext::TrackedContext(const model::Model& model, backend::CpuDevice& device, model::ContextOptions options)
    : ctx_(model, device, options) {}

void TrackedContext::clear() {
  ctx_.clear();
  cached_.clear();
}

int64_t TrackedContext::rollback_to(std::span<const Token> seq) {
  const size_t n = std::min(cached_.size(), seq.size());
  size_t common = 0;
  while (common < n && cached_[common] == seq[common]) ++common;
  const int64_t dropped = int64_t(cached_.size() - common);
  if (dropped > 0) truncate(int64_t(common));
  return dropped;
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
