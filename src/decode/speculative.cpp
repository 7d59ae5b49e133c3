#include "decode/speculative.h"

#include <algorithm>

#include "backend/thread_group.h"
#include "core/error.h"

namespace amusd::decode {

void check_compatible(const model::Model& target, const model::Model& draft) {
  const tok::Tokenizer& a = target.tokenizer();
  const tok::Tokenizer& b = draft.tokenizer();
  AMUSD_CHECK(a.n_vocab() == b.n_vocab(), "draft '", draft.path(), "' has a vocabulary of ", b.n_vocab(),
              " tokens but the target '", target.path(), "' has ", a.n_vocab(), ": they must share a tokenizer");
  AMUSD_CHECK(a.model_name() == b.model_name(), "draft tokenizer type '", b.model_name(),
              "' differs from the target's '", a.model_name(), "'");
  for (int32_t id = 0; id < a.n_vocab(); ++id)
    AMUSD_CHECK(a.piece(id) == b.piece(id), "draft and target vocabularies differ at token ", id, ": '", b.piece(id),
                "' vs '", a.piece(id), "'");
  AMUSD_CHECK(a.bos() == b.bos() && a.eos() == b.eos(), "draft and target have different BOS/EOS tokens");
}

SpeculativeSync::SpeculativeSync(const model::Model& target, const model::Model& draft, backend::CpuDevice& device,
                                 model::ContextOptions ctx_options, SpecOptions options)
    : target_(target, device, ctx_options), draft_(draft, device, ctx_options), options_(options) {
  check_compatible(target, draft);
  AMUSD_CHECK(options_.draft_max >= 1 && options_.draft_max <= 64, "--draft-max must be in 1..64, got ",
              options_.draft_max);
  AMUSD_CHECK(options_.draft_p_min >= 0.f && options_.draft_p_min < 1.f, "--draft-p-min must be in [0, 1)");
}

Outcome SpeculativeSync::generate(const Request& req, TokenSink& sink, Stats& stats, std::stop_token stop) {
  AMUSD_CHECK(!req.prompt.empty(), "empty prompt");
  AMUSD_CHECK(int64_t(req.prompt.size()) < target_.n_ctx(), "prompt of ", req.prompt.size(),
              " tokens does not fit in the context of ", target_.n_ctx());
  sampling::validate(req.sampling);
  const sampling::SamplerParams& sp = req.sampling;
  std::unique_ptr<Verifier> default_verifier = make_verifier(sp);
  Verifier& verifier = custom_verifier_ ? *custom_verifier_ : *default_verifier;
  sampling::Rng rng(sp.seed);                           // target: acceptance tests, corrections, bonus tokens
  sampling::Rng draft_rng(sp.seed ^ 0x9e3779b97f4a7c15ULL);  // draft: its own samples
  const int64_t n_vocab = target_.context().n_vocab();
  const int64_t limit = int64_t(req.prompt.size()) + req.max_new_tokens;  // no token beyond this is ever needed

  const auto t_start = Clock::now();
  stats.devices = {DeviceStats{target_.device().describe()}};
  double busy = 0;
  auto record = [&](TimelineEvent::Kind kind, Clock::time_point t0, int32_t n, int32_t n_acc = 0, bool rb = false) {
    const auto t1 = Clock::now();
    busy += ms_between(t0, t1);
    stats.timeline.push_back({kind, 0, ms_between(t_start, t0), ms_between(t_start, t1), n, n_acc, rb});
  };

  // Prefill both models; the first token comes from the target's prompt logits.
  backend::ScopedPin pin(target_.device().threads().cpus()[0]);
  target_.clear();
  auto t0 = Clock::now();
  std::vector<Token> seq = req.prompt;
  Token first;
  {
    const auto logits = target_.eval(req.prompt, model::Logits::Last);
    std::unique_ptr<Verifier> v = make_verifier(sp);
    first = v->verify(logits, n_vocab, {}, {}, rng).next;
  }
  draft_.start(req.prompt);
  record(TimelineEvent::Kind::Prefill, t0, int32_t(req.prompt.size()));
  stats.prefill_ms = ms_between(t_start, Clock::now());
  seq.push_back(first);
  if (!sink.accept({&first, 1})) return Outcome::SinkStopped;

  int32_t k = options_.draft_max;
  size_t agreed = 0;  // the draft's sequence is known to equal seq up to here
  std::vector<Token> drafts, batch;
  std::vector<sampling::Distribution> q(options_.draft_max);
  std::vector<const sampling::Distribution*> q_ptrs;
  for (;;) {
    if (stop.stop_requested()) return Outcome::Cancelled;
    const int64_t n_seq = int64_t(seq.size());
    if (n_seq > target_.n_ctx()) return Outcome::ContextFull;
    // The target will cache seq[:-1] + the last token + K drafts: K <= n_ctx - n_seq; and K + 1 tokens are emitted
    // at most, which must not pass the limit.
    const int64_t k_now = std::max<int64_t>(0, std::min<int64_t>({k, target_.n_ctx() - n_seq, limit - n_seq - 1}));

    // ---- draft ----
    t0 = Clock::now();
    const int64_t dropped = draft_.sync(seq, agreed);
    drafts.clear();
    q_ptrs.clear();
    for (int64_t i = 0; i < k_now && draft_.can_propose(); ++i) {
      float p_top = 1.f;
      const bool want_top = options_.draft_p_min > 0.f;
      drafts.push_back(draft_.propose(sp, draft_rng, sp.greedy() ? nullptr : &q[i], want_top ? &p_top : nullptr));
      q_ptrs.push_back(&q[i]);
      if (want_top && p_top < options_.draft_p_min) break;
    }
    if (dropped > 0) ++stats.n_rollbacks;
    if (!drafts.empty()) record(TimelineEvent::Kind::Draft, t0, int32_t(drafts.size()), 0, dropped > 0);

    // ---- verify: the target's uncached tokens (normally just the last accepted one) followed by the drafts ----
    t0 = Clock::now();
    const int64_t n_cached = target_.n_cached();
    batch.assign(seq.begin() + n_cached, seq.end());
    const int64_t n_pending = int64_t(batch.size());
    batch.insert(batch.end(), drafts.begin(), drafts.end());
    const auto logits = target_.eval(batch, model::Logits::All);
    const auto p_rows = logits.subspan((n_pending - 1) * n_vocab, (drafts.size() + 1) * n_vocab);
    const Verdict v = verifier.verify(p_rows, n_vocab, drafts, q_ptrs, rng);
    // Keep the cache of the accepted drafts only; the new token is fed next round.
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
    if (options_.adaptive) k = rejected ? std::max(1, k - 1) : std::min(options_.draft_max, k + 2);

    const size_t emitted_from = seq.size();
    agreed = emitted_from;
    seq.insert(seq.end(), drafts.begin(), drafts.begin() + v.n_accepted);
    seq.push_back(v.next);
    const double wall = ms_between(t_start, Clock::now());
    stats.devices[0].busy_ms = busy;
    stats.devices[0].idle_ms = wall - busy;
    if (!sink.accept(std::span<const Token>(seq).subspan(emitted_from))) return Outcome::SinkStopped;
  }
}

}  // namespace amusd::decode
