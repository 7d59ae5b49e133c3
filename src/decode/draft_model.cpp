#include "decode/draft_model.h"

#include <algorithm>

#include "core/error.h"

namespace amusd::decode {

DraftModel::DraftModel(const model::Model& model, backend::CpuDevice& device, model::ContextOptions options)
    : ctx_(model, device, options) {}

void DraftModel::start(std::span<const Token> prompt) {
  ctx_.clear();
  seq_.assign(prompt.begin(), prompt.end());
  // Cache all but the last prompt token: propose() feeds what is not cached yet and needs at least one token.
  if (prompt.size() > 1) ctx_.eval(prompt.first(prompt.size() - 1), model::Logits::Last);
}

int64_t DraftModel::sync(std::span<const Token> accepted, size_t agreed) {
  const size_t n = std::min(seq_.size(), accepted.size());
  size_t common = std::min(agreed, n);
  while (common < n && seq_[common] == accepted[common]) ++common;
  if (common == accepted.size()) return 0;  // the accepted prefix is a prefix of what the draft holds
  seq_.resize(common);
  seq_.insert(seq_.end(), accepted.begin() + int64_t(common), accepted.end());
  // Drop cached tokens from the divergence on; keep at least one uncached token for propose() to feed.
  const int64_t keep = std::min<int64_t>(int64_t(common), int64_t(seq_.size()) - 1);
  const int64_t dropped = std::max<int64_t>(0, ctx_.n_cached() - keep);
  if (dropped > 0) ctx_.truncate(keep);
  return dropped;
}

bool DraftModel::can_propose() const { return int64_t(seq_.size()) <= ctx_.n_ctx(); }

Token DraftModel::propose(const sampling::SamplerParams& params, sampling::Rng& rng, sampling::Distribution* q,
                          float* p_top) {
  AMUSD_ASSERT(can_propose() && ctx_.n_cached() < int64_t(seq_.size()));
  const std::span<const Token> pending = std::span<const Token>(seq_).subspan(ctx_.n_cached());
  const auto logits = ctx_.eval(pending, model::Logits::Last);
  Token t;
  if (params.greedy() && !p_top) {
    t = sampling::argmax(logits);
  } else {
    sampling::Distribution& d = q ? *q : scratch_;
    if (params.greedy()) {
      // The confidence used for early stopping is the softmax probability of the argmax.
      sampling::SamplerParams unit = params;
      unit.temperature = 1.f;
      unit.top_k = 0;
      unit.top_p = 1.f;
      unit.min_p = 0.f;
      sampling::distribution(logits, unit, d);
      t = d.argmax;
    } else {
      sampling::distribution(logits, params, d);
      t = sampling::draw(d, rng);
    }
    if (p_top) *p_top = d.probs[d.argmax];
  }
  seq_.push_back(t);
  return t;
}

}  // namespace amusd::decode
