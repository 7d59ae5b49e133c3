#include "decode/autoregressive.h"

#include "backend/thread_group.h"
#include "core/error.h"

namespace amusd::decode {

Autoregressive::Autoregressive(const model::Model& target, backend::CpuDevice& device, model::ContextOptions options)
    : ctx_(target, device, options) {}

Outcome Autoregressive::generate(const Request& req, TokenSink& sink, Stats& stats, std::stop_token stop) {
  AMUSD_CHECK(!req.prompt.empty(), "empty prompt");
  AMUSD_CHECK(int64_t(req.prompt.size()) < ctx_.n_ctx(), "prompt of ", req.prompt.size(),
              " tokens does not fit in the context of ", ctx_.n_ctx());
  sampling::Sampler sampler(req.sampling);
  backend::ScopedPin pin(ctx_.device().threads().cpus()[0]);
  ctx_.clear();

  const auto t_start = Clock::now();
  stats.devices = {DeviceStats{ctx_.device().describe()}};
  double busy = 0;
  auto timed_eval = [&](std::span<const Token> tokens, TimelineEvent::Kind kind) {
    const auto t0 = Clock::now();
    auto logits = ctx_.eval(tokens, model::Logits::Last);
    const auto t1 = Clock::now();
    busy += ms_between(t0, t1);
    stats.timeline.push_back({kind, 0, ms_between(t_start, t0), ms_between(t_start, t1), int32_t(tokens.size())});
    return logits;
  };

  auto logits = timed_eval(req.prompt, TimelineEvent::Kind::Prefill);
  stats.prefill_ms = ms_between(t_start, Clock::now());
  Outcome outcome = Outcome::SinkStopped;
  for (;;) {
    const Token t = sampler.sample(logits);
    if (!sink.accept({&t, 1})) break;
    if (stop.stop_requested()) {
      outcome = Outcome::Cancelled;
      break;
    }
    if (ctx_.n_past() >= ctx_.n_ctx()) {
      outcome = Outcome::ContextFull;
      break;
    }
    logits = timed_eval({&t, 1}, TimelineEvent::Kind::Decode);
  }
  const double wall = ms_between(t_start, Clock::now());
  stats.devices[0].busy_ms = busy;
  stats.devices[0].idle_ms = wall - busy;
  return outcome;
}

}  // namespace amusd::decode
