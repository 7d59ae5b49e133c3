// The forward pass of a decoder-only transformer (llama-style block: RMSNorm, attention with RoPE and GQA, SwiGLU),
// run by all threads of the context's device together. Threads split matrix rows, tokens or (token, head) pairs and
// meet at barriers between dependent steps.
#include "model/context.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <memory>
#include <tuple>
#include <utility>

#include "core/error.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/panels.h"

namespace amusd::model {

using backend::ThreadCtx;
using kernels::Isa;

// ---------------------------------------------------------------------------------------------------------
// Scratch buffers, sized for the largest batch seen so far.

struct Context::Workspace {
  int64_t n_tok = 0;
  std::vector<float> x;                       // [n_tok][n_embd] residual stream
  std::vector<float> xb;                      // [n_tok][n_embd] normalised input / block output
  std::vector<float> q;                       // [n_tok][q_dim]
  std::vector<float> k, v;                    // [n_tok][kv_dim]
  std::vector<float> att;                     // [n_tok][q_dim] attention output
  std::vector<float> hb, hb2;                 // [n_tok][n_ff] feed-forward gate / up
  std::vector<float> scores;                  // [n_threads][gqa_ratio][n_ctx] attention scores
  std::vector<float> rope_cos, rope_sin;      // [n_tok][n_rot / 2]
  std::array<std::vector<uint8_t>, 3> xq;     // activations converted to up to 3 vec_dot types
  // One work counter per matrix product (see matmul) and per attention step of a forward pass, each on its own cache
  // line.
  struct alignas(64) Counter {
    std::atomic<int64_t> next{0};
  };
  std::unique_ptr<Counter[]> counters;
  int64_t n_counters = 0;

  void reset_counters(int64_t n) {
    if (n > n_counters) counters = std::make_unique<Counter[]>(size_t(n_counters = n));
    for (int64_t i = 0; i < n; ++i) counters[i].next.store(0, std::memory_order_relaxed);
  }

  void reserve(const HParams& hp, int64_t n, int64_t n_ctx, int n_threads) {
    if (n <= n_tok && int64_t(scores.size()) >= n_threads * hp.gqa_ratio() * n_ctx) return;
    n_tok = std::max(n, n_tok);
    const int64_t width = std::max({hp.n_embd, hp.q_dim(), hp.n_ff});
    x.resize(n_tok * hp.n_embd);
    xb.resize(n_tok * hp.n_embd);
    q.resize(n_tok * hp.q_dim());
    k.resize(n_tok * hp.kv_dim());
    v.resize(n_tok * hp.kv_dim());
    att.resize(n_tok * hp.q_dim());
    hb.resize(n_tok * hp.n_ff);
    hb2.resize(n_tok * hp.n_ff);
    scores.resize(size_t(n_threads) * hp.gqa_ratio() * n_ctx);
    rope_cos.resize(n_tok * hp.n_rot / 2);
    rope_sin.resize(n_tok * hp.n_rot / 2);
    // The widest activation type (f32) needs 4 bytes per element; quantized types need less.
    for (auto& b : xq) b.resize(size_t(n_tok * width) * 4);
  }
};

namespace {

// Activations converted to the vec_dot types a set of weights needs.
struct Converted {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
};

struct ConvertedSet {
  std::array<Converted, 3> items;
  int count = 0;
  const Converted& of(DType t) const {
    for (int i = 0; i < count; ++i)
      if (items[i].type == t) return items[i];
    __builtin_unreachable();
  }
};

// Converts x [n_tok][n] for every distinct vec_dot type of `weights`. All threads share the work (the rows of a batch
// are contiguous, so it is split by blocks) and meet at a barrier at the end.
ConvertedSet convert_input(ThreadCtx& tc, Isa isa, const float* x, int64_t n_tok, int64_t n,
                           std::initializer_list<const Weight*> weights,
                           std::array<std::vector<uint8_t>, 3>& buffers) {
  ConvertedSet set;
  bool any_work = false;
  for (const Weight* w : weights) {
    const DType t = kernels::kernels(w->type, isa).vec_dot_type;
    bool seen = false;
    for (int i = 0; i < set.count; ++i) seen |= set.items[i].type == t;
    if (seen) continue;
    Converted& c = set.items[set.count];
    c.type = t;
    c.row_bytes = size_t(row_bytes(t, n));
    if (t == DType::F32) {
      c.data = reinterpret_cast<const uint8_t*>(x);
    } else {
      uint8_t* dst = buffers[set.count].data();
      c.data = dst;
      const int64_t bs = info(t).block_size;
      const int64_t n_blocks = n_tok * n / bs;
      auto [b0, b1] = tc.range(n_blocks);
      if (b1 > b0) kernels::kernels(t, isa).from_float(x + b0 * bs, dst + b0 * info(t).block_bytes, (b1 - b0) * bs);
      any_work = true;
    }
    ++set.count;
  }
  if (any_work) tc.barrier();
  return set;
}

// y[t * y_stride + r] = W row r . x row t. Threads take chunks of rows from `next` (shared by all of them, 0 at the
// start) until none are left, so a thread that gets less memory bandwidth than the other does less of the work
// instead of keeping it waiting at the next barrier. Chunks are fixed (whole 16-row panels, multiples of 8 of them:
// the decode kernel reads 8 panels at a time) and each row is computed the same way whichever thread takes it.
void matmul(ThreadCtx& tc, Isa isa, const Weight& w, const ConvertedSet& in, int64_t n_tok, float* y,
            int64_t y_stride, std::atomic<int64_t>& next) {
  const kernels::TypeKernels& k = kernels::kernels(w.type, isa);
  const Converted& x = in.of(k.vec_dot_type);
  constexpr int64_t kUnit = kernels::kPanelRows, kChunksPerThread = 4;
  const int64_t n_units = (w.n_out + kUnit - 1) / kUnit;
  const int64_t per_chunk = (n_units + kChunksPerThread * tc.nth - 1) / (kChunksPerThread * tc.nth);
  const int64_t chunk = tc.nth == 1 ? n_units : (per_chunk + 7) / 8 * 8;
  for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) * chunk < n_units;) {
    const int64_t r0 = c * chunk * kUnit, r1 = std::min(w.n_out, r0 + chunk * kUnit);
    if (w.panels)
      kernels::panel_gemm_kernel(w.type, isa)(w.n_in, w.data + r0 * w.row_bytes, (r1 - r0) / kUnit, x.data,
                                              x.row_bytes, n_tok, y + r0, y_stride);
    else
      k.gemm(w.n_in, w.data + r0 * w.row_bytes, w.row_bytes, r1 - r0, x.data, x.row_bytes, n_tok, y + r0, y_stride);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Context

Context::Context(const Model& model, backend::CpuDevice& device, ContextOptions options)
    : model_(model),
      device_(device),
      options_(options),
      kv_(model.hparams().n_layer,
          options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(model.hparams().n_ctx_train, 4096),
          model.hparams().kv_dim(), options.kv_type),
      ws_(std::make_unique<Workspace>()) {
  AMUSD_CHECK(options_.max_batch >= 1, "max batch must be at least 1");
}

Context::~Context() = default;

std::span<const float> Context::eval(std::span<const int32_t> tokens, Logits mode, std::span<const int32_t> positions) {
  const int64_t n = int64_t(tokens.size());
  const int64_t n_vocab = model_.hparams().n_vocab;
  AMUSD_CHECK(n >= 1, "eval needs at least one token");
  AMUSD_CHECK(positions.empty() || int64_t(positions.size()) == n, "eval: ", positions.size(), " positions for ", n,
              " tokens");
  AMUSD_CHECK(n_past() + n <= n_ctx(), "context is full: ", n_past(), " cached + ", n, " new tokens > n_ctx ",
              n_ctx());
  for (int64_t i = 0; i < n; ++i)
    AMUSD_CHECK(tokens[i] >= 0 && tokens[i] < n_vocab, "token id ", tokens[i], " out of range (vocabulary of ",
                n_vocab, ")");

  const bool all = mode == Logits::All;
  logits_.resize(size_t(all ? n : 1) * n_vocab);
  std::vector<int32_t> pos;
  for (int64_t start = 0; start < n; start += options_.max_batch) {
    const int64_t len = std::min(options_.max_batch, n - start);
    pos.resize(len);
    for (int64_t i = 0; i < len; ++i) pos[i] = positions.empty() ? int32_t(n_past() + i) : positions[start + i];
    const bool last_chunk = start + len == n;
    float* out = all ? logits_.data() + start * n_vocab : (last_chunk ? logits_.data() : nullptr);
    forward_batch(tokens.subspan(start, len), pos, all, out);
  }
  return logits_;
}

void Context::forward_batch(std::span<const int32_t> tokens, std::span<const int32_t> positions, bool all_logits,
                            float* logits) {
  const HParams& hp = model_.hparams();
  const int64_t n = int64_t(tokens.size());
  const int64_t n_past = kv_.size();
  const int nth = device_.n_threads();
  ws_->reserve(hp, n, kv_.capacity(), nth);
  Workspace& w = *ws_;
  const Isa isa = device_.isa();
  const int64_t E = hp.n_embd, QD = hp.q_dim(), KVD = hp.kv_dim(), FF = hp.n_ff, HD = hp.head_dim;
  const int64_t half_rot = hp.n_rot / 2;
  const bool neox = hp.rope_style == RopeStyle::NeoX;
  const float kq_scale = 1.0f / std::sqrt(float(HD));
  const DType kv_type = kv_.type();
  const size_t kv_elem = kv_type == DType::F32 ? 4 : 2;
  const float* freq_factors = model_.rope_freq_factors().empty() ? nullptr : model_.rope_freq_factors().data();
  const auto& embd = kernels::kernels(model_.tok_embd().type, isa);
  const kernels::AttendFn attend = kernels::attention_kernel(isa);
  const auto silu_mul = kernels::activation_kernels(isa).silu_mul;
  // Logits rows: all tokens, or only the last one.
  const int64_t out_first = all_logits ? 0 : n - 1;
  const int64_t n_out = logits ? n - out_first : 0;

  // One counter per shared loop: every matrix product and the attention of every layer, then the output head.
  constexpr int64_t kMatmulsPerLayer = std::tuple_size_v<decltype(std::declval<const Layer&>().matrices())>;
  w.reset_counters((kMatmulsPerLayer + 1) * hp.n_layer + 1);

  device_.threads().run([&](ThreadCtx& tc) {
    int64_t n_shared = 0;  // shared loops done so far: every thread does them in the same order
    auto next_counter = [&]() -> std::atomic<int64_t>& { return w.counters[n_shared++].next; };
    const auto [t0, t1] = tc.range(n);  // this thread's tokens for per-token steps (the same split every time)

    // Token embeddings and RoPE angles.
    for (int64_t t = t0; t < t1; ++t) {
      const Weight& te = model_.tok_embd();
      embd.to_float(te.data + tokens[t] * te.row_bytes, &w.x[t * E], E);
      kernels::rope_angles(positions[t], hp.n_rot, hp.rope_base, hp.rope_freq_scale, freq_factors,
                           &w.rope_cos[t * half_rot], &w.rope_sin[t * half_rot]);
    }
    tc.barrier();

    for (int64_t l = 0; l < hp.n_layer; ++l) {
      const Layer& L = model_.layers()[l];

      // ---- attention ----
      for (int64_t t = t0; t < t1; ++t) {
        if (l > 0) kernels::add(&w.x[t * E], &w.xb[t * E], E);  // residual of the previous feed-forward block
        kernels::rms_norm(&w.x[t * E], L.attn_norm.data(), &w.xb[t * E], E, hp.rms_eps);
      }
      tc.barrier();
      {
        const ConvertedSet in = convert_input(tc, isa, w.xb.data(), n, E, {&L.wq, &L.wk, &L.wv}, w.xq);
        matmul(tc, isa, L.wq, in, n, w.q.data(), QD, next_counter());
        matmul(tc, isa, L.wk, in, n, w.k.data(), KVD, next_counter());
        matmul(tc, isa, L.wv, in, n, w.v.data(), KVD, next_counter());
      }
      tc.barrier();
      for (int64_t t = t0; t < t1; ++t) {
        float* q = &w.q[t * QD];
        float* k = &w.k[t * KVD];
        float* v = &w.v[t * KVD];
        if (!L.bq.empty()) {
          kernels::add(q, L.bq.data(), QD);
          kernels::add(k, L.bk.data(), KVD);
          kernels::add(v, L.bv.data(), KVD);
        }
        const float* c = &w.rope_cos[t * half_rot];
        const float* s = &w.rope_sin[t * half_rot];
        kernels::rope(q, hp.n_head, HD, hp.n_rot, c, s, neox);
        kernels::rope(k, hp.n_head_kv, HD, hp.n_rot, c, s, neox);
        kernels::store_row(k, kv_.k(l, n_past + t), kv_type, KVD);
        kernels::store_row(v, kv_.v(l, n_past + t), kv_type, KVD);
      }
      tc.barrier();
      {
        // One work item per (token, KV head): the query heads sharing that KV head are done together. An item's cost
        // grows with its token's position (causal), so threads take items from a shared counter, last tokens first
        // (a fixed split of the tokens left one thread a quarter of a prompt's attention work and the other three).
        const int64_t group = hp.gqa_ratio(), n_items = n * hp.n_head_kv;
        std::atomic<int64_t>& next_item = next_counter();
        float* scores = &w.scores[size_t(tc.ith) * group * kv_.capacity()];
        for (int64_t i; (i = next_item.fetch_add(1, std::memory_order_relaxed)) < n_items;) {
          const int64_t t = n - 1 - i / hp.n_head_kv, kvh = i % hp.n_head_kv;
          attend({.q = &w.q[t * QD + kvh * group * HD],
                  .k = kv_.k(l, 0) + kvh * HD * kv_elem,
                  .v = kv_.v(l, 0) + kvh * HD * kv_elem,
                  .stride = kv_.slot_bytes(),
                  .type = kv_type,
                  .n_kv = n_past + t + 1,
                  .n_q = group,
                  .head_dim = HD,
                  .scale = kq_scale,
                  .scores = scores,
                  .out = &w.att[t * QD + kvh * group * HD]});
        }
      }
      tc.barrier();
      {
        const ConvertedSet in = convert_input(tc, isa, w.att.data(), n, QD, {&L.wo}, w.xq);
        matmul(tc, isa, L.wo, in, n, w.xb.data(), E, next_counter());
      }
      tc.barrier();

      // ---- feed-forward ----
      for (int64_t t = t0; t < t1; ++t) {
        kernels::add(&w.x[t * E], &w.xb[t * E], E);
        kernels::rms_norm(&w.x[t * E], L.ffn_norm.data(), &w.xb[t * E], E, hp.rms_eps);
      }
      tc.barrier();
      {
        const ConvertedSet in = convert_input(tc, isa, w.xb.data(), n, E, {&L.w_gate, &L.w_up}, w.xq);
        matmul(tc, isa, L.w_gate, in, n, w.hb.data(), FF, next_counter());
        matmul(tc, isa, L.w_up, in, n, w.hb2.data(), FF, next_counter());
      }
      tc.barrier();
      {
        const auto [e0, e1] = tc.range(n * FF);
        silu_mul(w.hb.data(), w.hb2.data(), w.hb.data(), e0, e1, FF);
      }
      tc.barrier();
      {
        const ConvertedSet in = convert_input(tc, isa, w.hb.data(), n, FF, {&L.w_down}, w.xq);
        matmul(tc, isa, L.w_down, in, n, w.xb.data(), E, next_counter());
      }
      tc.barrier();
    }

    // ---- output ----
    if (n_out == 0) return;
    for (int64_t t = t0; t < t1; ++t) {
      if (t < out_first) continue;
      kernels::add(&w.x[t * E], &w.xb[t * E], E);
      kernels::rms_norm(&w.x[t * E], model_.output_norm().data(), &w.xb[t * E], E, hp.rms_eps);
    }
    tc.barrier();
    const ConvertedSet in = convert_input(tc, isa, &w.xb[out_first * E], n_out, E, {&model_.output()}, w.xq);
    matmul(tc, isa, model_.output(), in, n_out, logits, hp.n_vocab, next_counter());
  });
  kv_.commit(n);
}

}  // namespace amusd::model
