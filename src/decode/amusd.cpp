#include "decode/amusd.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "core/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace amusd::decode {

using sampling::Distribution;
using DistPtr = std::unique_ptr<Distribution>;

// ---------------------------------------------------------------------------------------------------------
// State shared by the verifier (the calling thread) and the draft thread. Everything but the atomics is guarded by
// `mu`. Invariant while `version` is unchanged: the draft's sequence = accepted + in-flight drafts + proposed.

struct Amusd::Shared {
  std::mutex mu;
  std::condition_variable draft_cv;   // wakes the draft: accepted prefix moved, room to draft, stop
  std::condition_variable verify_cv;  // wakes the verifier: new proposals, draft stalled or failed, stop

  std::vector<Token> accepted;        // prompt + accepted tokens; append-only
  uint64_t version = 0;               // bumped whenever `accepted` grows
  int64_t in_flight = 0;              // drafts the verifier has taken and is verifying
  std::deque<Token> proposed;         // draft tokens after accepted + in-flight, in order
  std::deque<DistPtr> proposed_q;     // their distributions (sampling only)
  std::vector<DistPtr> pool;          // recycled distribution buffers
  bool stop = false;
  bool draft_stalled = false;         // the draft cannot propose until the accepted prefix moves
  std::exception_ptr draft_error;
  std::atomic<int64_t> n_proposed{0};  // proposed.size(), readable without the lock (verifier's spin)

  // Set up before the draft thread starts; read-only afterwards.
  Clock::time_point t_start;
  int64_t limit = 0;                  // prompt + max_new_tokens: no position at or beyond it is needed
  int64_t max_ahead = 0;              // most tokens the draft may run ahead of `accepted`

  // Written by the draft thread only; read after it is joined.
  double draft_busy_ms = 0;
  int64_t draft_rollbacks = 0;
  std::vector<TimelineEvent> draft_events;

  DistPtr take_buffer() {
    if (pool.empty()) return std::make_unique<Distribution>();
    DistPtr d = std::move(pool.back());
    pool.pop_back();
    return d;
  }
  void give_back(DistPtr d) {
    if (d) pool.push_back(std::move(d));
  }
  void push_proposal(Token t, DistPtr q) {
    proposed.push_back(t);
    proposed_q.push_back(std::move(q));
    n_proposed.store(int64_t(proposed.size()), std::memory_order_release);
  }
  void pop_proposal() {
    give_back(std::move(proposed_q.front()));
    proposed.pop_front();
    proposed_q.pop_front();
    n_proposed.store(int64_t(proposed.size()), std::memory_order_release);
  }
  void clear_proposals() {
    while (!proposed.empty()) pop_proposal();
  }

  // The verifier extends the accepted prefix with `tokens` (accepted drafts, then its own token). Proposals beyond the
  // taken drafts stay valid only if none was rejected and the draft's next proposal equals the verifier's token.
  void publish_accepted(std::span<const Token> tokens, bool rejected, std::vector<DistPtr>& used_q) {
    accepted.insert(accepted.end(), tokens.begin(), tokens.end());
    ++version;
    in_flight = 0;
    for (auto& d : used_q) give_back(std::move(d));
    used_q.clear();
    if (!rejected && !proposed.empty() && proposed.front() == tokens.back()) pop_proposal();
    else clear_proposals();
    draft_stalled = false;
    draft_cv.notify_one();
  }
};

namespace {

// Spins for up to ~20 us waiting for `n` to become positive: a verification usually finds drafts already
// published, and blocking on the condition variable costs more than the typical wait.
bool spin_for_proposals(const std::atomic<int64_t>& n) {
  for (int i = 0; i < 2000; ++i) {
    if (n.load(std::memory_order_acquire) > 0) return true;
#if defined(__x86_64__)
    _mm_pause();
#endif
  }
  return false;
}

bool share_cpus(const backend::CpuDevice& a, const backend::CpuDevice& b) {
  for (int c : a.threads().cpus())
    for (int d : b.threads().cpus())
      if (c == d) return true;
  return false;
}

}  // namespace

Amusd::Amusd(const model::Model& target, backend::CpuDevice& verify_device, const model::Model& draft,
             backend::CpuDevice& draft_device, model::ContextOptions ctx_options, SpecOptions options)
    : target_(target, verify_device, ctx_options), draft_(draft, draft_device, ctx_options), options_(options) {
  check_compatible(target, draft);
  AMUSD_CHECK(!share_cpus(verify_device, draft_device), "amusd runs the draft and the verifier at the same time: ",
              "their CPU sets must be disjoint (verify: ", backend::format_cpu_list(verify_device.threads().cpus()),
              ", draft: ", backend::format_cpu_list(draft_device.threads().cpus()), ")");
  AMUSD_CHECK(options_.draft_max >= 1 && options_.draft_max <= 64, "--draft-max must be in 1..64, got ",
              options_.draft_max);
  AMUSD_CHECK(options_.draft_ahead >= 0 && options_.draft_ahead <= 256, "--draft-ahead must be in 0..256, got ",
              options_.draft_ahead);
}

Amusd::~Amusd() = default;

// ---------------------------------------------------------------------------------------------------------
// The draft thread: proposes continuously, publishes each token, reconciles when the accepted prefix moves.

void Amusd::draft_loop(Shared& sh, const Request& req) {
  const sampling::SamplerParams& sp = req.sampling;
  sampling::Rng rng(sp.seed ^ 0x9e3779b97f4a7c15ULL);
  backend::ScopedPin pin(draft_.tracked().device().threads().cpus()[0]);
  auto record = [&](TimelineEvent::Kind kind, Clock::time_point t0, int32_t n, bool rollback) {
    const auto t1 = Clock::now();
    sh.draft_busy_ms += ms_between(t0, t1);
    sh.draft_events.push_back({kind, 1, ms_between(sh.t_start, t0), ms_between(sh.t_start, t1), n, 0, rollback});
  };

  auto t0 = Clock::now();
  draft_.start(req.prompt);
  record(TimelineEvent::Kind::Prefill, t0, int32_t(req.prompt.size()), false);

  std::vector<Token> accepted;  // the draft's copy of sh.accepted (a prefix of it)
  uint64_t synced = 0;          // the version `accepted` corresponds to
  bool rolled_back = false;     // the next draft step follows a rollback (for the timeline)
  struct Unpublished {
    Token token;
    size_t pos;
    DistPtr q;
  };
  std::optional<Unpublished> held;  // a token proposed while the accepted prefix moved

  std::unique_lock lk(sh.mu);
  for (;;) {
    sh.draft_cv.wait(lk, [&] {
      return sh.stop || sh.version != synced ||
             (!sh.draft_stalled && sh.in_flight + int64_t(sh.proposed.size()) < sh.max_ahead);
    });
    if (sh.stop) break;

    if (sh.version != synced) {
      // Reconcile with the verifier: copy the new accepted tokens, roll back what diverges.
      const size_t agreed = accepted.size();  // the draft already agreed with everything accepted before
      accepted.insert(accepted.end(), sh.accepted.begin() + int64_t(accepted.size()), sh.accepted.end());
      synced = sh.version;
      lk.unlock();
      if (draft_.sync(accepted, agreed) > 0) {
        ++sh.draft_rollbacks;
        rolled_back = true;
      }
      lk.lock();
      if (held) {
        // Publish it if it survived the sync and is exactly the next expected proposal; if the prefix moved again
        // meanwhile, decide after the next sync.
        const auto& seq = draft_.sequence();
        const bool kept = held->pos < seq.size() && seq[held->pos] == held->token;
        if (!kept) {
          sh.give_back(std::move(held->q));
          held.reset();
        } else if (sh.version == synced) {
          if (held->pos == sh.accepted.size() + size_t(sh.in_flight) + sh.proposed.size()) {
            sh.push_proposal(held->token, std::move(held->q));
            sh.verify_cv.notify_one();
          } else {
            sh.give_back(std::move(held->q));  // it became part of the accepted prefix
          }
          held.reset();
        }
      }
      continue;
    }

    if (int64_t(draft_.sequence().size()) >= sh.limit || !draft_.can_propose()) {
      sh.draft_stalled = true;  // nothing useful to propose until the verifier moves on
      sh.verify_cv.notify_one();
      continue;
    }

    DistPtr q = sp.greedy() ? nullptr : sh.take_buffer();
    lk.unlock();
    t0 = Clock::now();
    const Token d = draft_.propose(sp, rng, q.get());
    record(TimelineEvent::Kind::Draft, t0, 1, rolled_back);
    rolled_back = false;
    const size_t pos = draft_.sequence().size() - 1;
    lk.lock();
    if (sh.version == synced) {
      sh.push_proposal(d, std::move(q));
      sh.verify_cv.notify_one();
    } else {
      held = Unpublished{d, pos, std::move(q)};
    }
  }
  if (held) sh.give_back(std::move(held->q));
}

// ---------------------------------------------------------------------------------------------------------
// The verifier: the calling thread.

Outcome Amusd::generate(const Request& req, TokenSink& sink, Stats& stats, std::stop_token stop) {
  AMUSD_CHECK(!req.prompt.empty(), "empty prompt");
  AMUSD_CHECK(int64_t(req.prompt.size()) < target_.n_ctx(), "prompt of ", req.prompt.size(),
              " tokens does not fit in the context of ", target_.n_ctx());
  sampling::validate(req.sampling);
  const sampling::SamplerParams& sp = req.sampling;
  std::unique_ptr<Verifier> default_verifier = make_verifier(sp);
  Verifier& verifier = custom_verifier_ ? *custom_verifier_ : *default_verifier;
  sampling::Rng rng(sp.seed);
  const int64_t n_vocab = target_.context().n_vocab();
  const int64_t n_ctx = target_.n_ctx();

  Shared sh;
  sh.t_start = Clock::now();
  sh.limit = std::min<int64_t>(int64_t(req.prompt.size()) + req.max_new_tokens, n_ctx + 1);
  sh.max_ahead = options_.draft_ahead > 0 ? options_.draft_ahead : 2 * options_.draft_max;
  stats.devices = {DeviceStats{target_.device().describe()}, DeviceStats{draft_.tracked().device().describe()}};

  backend::ScopedPin pin(target_.device().threads().cpus()[0]);
  target_.clear();
  std::thread draft_thread([&] {
    try {
      draft_loop(sh, req);
    } catch (...) {
      std::lock_guard g(sh.mu);
      sh.draft_error = std::current_exception();
      sh.stop = true;
      sh.verify_cv.notify_one();
    }
  });
  // Cancellation from another thread wakes whoever is waiting.
  std::stop_callback on_cancel(stop, [&] {
    std::lock_guard g(sh.mu);
    sh.stop = true;
    sh.draft_cv.notify_one();
    sh.verify_cv.notify_one();
  });

  double busy = 0;
  auto record = [&](TimelineEvent::Kind kind, Clock::time_point t0, int32_t n, int32_t n_acc, bool rb) {
    const auto t1 = Clock::now();
    busy += ms_between(t0, t1);
    stats.timeline.push_back({kind, 0, ms_between(sh.t_start, t0), ms_between(sh.t_start, t1), n, n_acc, rb});
  };

  Outcome outcome = Outcome::SinkStopped;
  std::vector<Token> seq = req.prompt;  // the verifier's copy of sh.accepted
  std::vector<Token> drafts, batch;
  std::vector<DistPtr> q;
  std::vector<const Distribution*> q_ptrs;
  try {
    // Prefill (the draft prefills at the same time on its device); the first token comes from the prompt logits.
    auto t0 = Clock::now();
    const auto logits = target_.eval(req.prompt, model::Logits::Last);
    const Token first = make_verifier(sp)->verify(logits, n_vocab, {}, {}, rng).next;
    record(TimelineEvent::Kind::Prefill, t0, int32_t(req.prompt.size()), 0, false);
    stats.prefill_ms = ms_between(sh.t_start, Clock::now());
    seq.push_back(first);
    {
      // The draft may already have proposed this position while both prefilled.
      std::lock_guard g(sh.mu);
      sh.accepted = req.prompt;
      sh.publish_accepted({&first, 1}, /*rejected=*/false, q);
    }
    bool go_on = sink.accept({&first, 1});

    while (go_on) {
      if (stop.stop_requested()) {
        outcome = Outcome::Cancelled;
        break;
      }
      const int64_t n_seq = int64_t(seq.size());
      if (n_seq > n_ctx) {
        outcome = Outcome::ContextFull;
        break;
      }
      const int64_t k_max = std::max<int64_t>(0, std::min<int64_t>({options_.draft_max, n_ctx - n_seq,
                                                                     sh.limit - n_seq - 1}));

      // ---- take every published draft beyond the accepted prefix (up to k_max) ----
      if (k_max > 0) spin_for_proposals(sh.n_proposed);
      {
        std::unique_lock lk(sh.mu);
        sh.verify_cv.wait(lk, [&] { return sh.stop || k_max == 0 || !sh.proposed.empty() || sh.draft_stalled; });
        if (sh.draft_error) std::rethrow_exception(sh.draft_error);
        if (sh.stop) {
          outcome = Outcome::Cancelled;
          break;
        }
        const int64_t k = std::min<int64_t>(k_max, int64_t(sh.proposed.size()));
        drafts.assign(sh.proposed.begin(), sh.proposed.begin() + k);
        q.clear();
        for (int64_t i = 0; i < k; ++i) q.push_back(std::move(sh.proposed_q[i]));
        sh.proposed.erase(sh.proposed.begin(), sh.proposed.begin() + k);
        sh.proposed_q.erase(sh.proposed_q.begin(), sh.proposed_q.begin() + k);
        sh.n_proposed.store(int64_t(sh.proposed.size()), std::memory_order_release);
        sh.in_flight = k;
      }
      q_ptrs.clear();
      for (const auto& d : q) q_ptrs.push_back(d.get());

      // ---- verify them in one batched pass ----
      t0 = Clock::now();
      const int64_t n_cached = target_.n_cached();
      batch.assign(seq.begin() + n_cached, seq.end());
      const int64_t n_pending = int64_t(batch.size());
      batch.insert(batch.end(), drafts.begin(), drafts.end());
      const auto all = target_.eval(batch, model::Logits::All);
      const Verdict v = verifier.verify(all.subspan((n_pending - 1) * n_vocab, (drafts.size() + 1) * n_vocab), n_vocab,
                                        drafts, q_ptrs, rng);
      target_.truncate(n_cached + n_pending + v.n_accepted);
      const bool rejected = v.n_accepted < int32_t(drafts.size());
      record(TimelineEvent::Kind::Verify, t0, int32_t(batch.size()), v.n_accepted, rejected);
      if (!drafts.empty()) {
        stats.n_drafted += int64_t(drafts.size());
        stats.n_accepted += v.n_accepted;
        ++stats.n_verifications;
        if (int64_t(stats.accepted_hist.size()) <= v.n_accepted) stats.accepted_hist.resize(v.n_accepted + 1);
        ++stats.accepted_hist[v.n_accepted];
      }

      // ---- publish the new accepted prefix ----
      const size_t emitted_from = seq.size();
      seq.insert(seq.end(), drafts.begin(), drafts.begin() + v.n_accepted);
      seq.push_back(v.next);
      {
        std::lock_guard g(sh.mu);
        sh.publish_accepted(std::span<const Token>(seq).subspan(emitted_from), rejected, q);
      }
      go_on = sink.accept(std::span<const Token>(seq).subspan(emitted_from));
    }
  } catch (...) {
    {
      std::lock_guard g(sh.mu);
      sh.stop = true;
      sh.draft_cv.notify_one();
    }
    draft_thread.join();
    throw;
  }

  {
    std::lock_guard g(sh.mu);
    sh.stop = true;
    sh.draft_cv.notify_one();
  }
  draft_thread.join();
  if (sh.draft_error) std::rethrow_exception(sh.draft_error);

  const double wall = ms_between(sh.t_start, Clock::now());
  stats.devices[0].busy_ms = busy;
  stats.devices[0].idle_ms = wall - busy;
  stats.devices[1].busy_ms = sh.draft_busy_ms;
  stats.devices[1].idle_ms = wall - sh.draft_busy_ms;
  stats.n_rollbacks = sh.draft_rollbacks;
  stats.timeline.insert(stats.timeline.end(), sh.draft_events.begin(), sh.draft_events.end());
  std::sort(stats.timeline.begin(), stats.timeline.end(),
            [](const TimelineEvent& a, const TimelineEvent& b) { return a.start_ms < b.start_ms; });
  return outcome;
}

}  // namespace amusd::decode
