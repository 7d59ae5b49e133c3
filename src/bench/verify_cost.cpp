#include "bench/verify_cost.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "backend/thread_group.h"
#include "bench/aggregate.h"
#include "core/error.h"
#include "decode/stats.h"

namespace amusd::bench {

namespace {

// n real-looking token ids: an English text tokenized and repeated (ids of any kind would do for timing).
std::vector<int32_t> sample_tokens(const model::Model& m, int64_t n) {
  const std::string text =
      "Once upon a time, in a small village by the sea, there lived a curious girl who loved to read books about "
      "the stars, the tides and the strange machines that sailors brought back from distant lands.";
  std::vector<int32_t> ids = m.tokenizer().encode(text, /*add_special=*/false);
  if (ids.empty()) ids = {1};
  std::vector<int32_t> out;
  const int32_t bos = m.tokenizer().bos();
  if (bos >= 0 && m.tokenizer().add_bos()) out.push_back(bos);
  while (int64_t(out.size()) < n) out.push_back(ids[out.size() % ids.size()]);
  out.resize(size_t(n));
  return out;
}

// Milliseconds of one eval.
double time_eval(model::Context& ctx, std::span<const int32_t> tokens, model::Logits mode) {
  const auto t0 = decode::Clock::now();
  ctx.eval(tokens, mode);
  return decode::ms_between(t0, decode::Clock::now());
}

}  // namespace

VerifyCost measure_verify_cost(const model::Model& target, backend::CpuDevice& device,
                               const model::ContextOptions& ctx_options, const VerifyCostOptions& o) {
  AMUSD_CHECK(o.prompt_tokens >= 1, "verify-cost: the prompt needs at least 1 token, got ", o.prompt_tokens);
  AMUSD_CHECK(o.warmup >= 0 && o.reps >= 1 && o.reps <= 1000, "verify-cost: reps must be in 1..1000, got ", o.reps);
  AMUSD_CHECK(!o.batch_sizes.empty(), "verify-cost: no batch sizes given");
  const int64_t k_max = *std::max_element(o.batch_sizes.begin(), o.batch_sizes.end());
  AMUSD_CHECK(*std::min_element(o.batch_sizes.begin(), o.batch_sizes.end()) >= 1, "verify-cost: batch sizes must be >= 1");

  model::Context ctx(target, device, ctx_options);
  AMUSD_CHECK(o.prompt_tokens + k_max <= ctx.n_ctx(), "verify-cost: a prompt of ", o.prompt_tokens, " tokens plus ",
              k_max, " verified tokens does not fit in the context of ", ctx.n_ctx());
  backend::ScopedPin pin(device.threads().cpus()[0]);
  const std::vector<int32_t> tokens = sample_tokens(target, o.prompt_tokens + k_max);
  const std::span<const int32_t> prompt(tokens.data(), size_t(o.prompt_tokens));
  const std::span<const int32_t> next(tokens.data() + o.prompt_tokens, size_t(k_max));

  VerifyCost r;
  r.device = device.describe();
  r.prompt_tokens = o.prompt_tokens;
  std::vector<double> prefill;
  for (int i = 0; i < o.warmup + o.reps; ++i) {
    ctx.clear();
    const double ms = time_eval(ctx, prompt, model::Logits::Last);
    if (i >= o.warmup) prefill.push_back(ms);
  }
  r.prefill_ms = median(prefill);

  // Round-robin: decode step, then every K, each from the same context (the prompt).
  std::vector<double> decode;
  std::vector<std::vector<double>> batch(o.batch_sizes.size());
  for (int i = 0; i < o.warmup + o.reps; ++i) {
    const double ms = time_eval(ctx, next.first(1), model::Logits::Last);
    ctx.truncate(o.prompt_tokens);
    if (i >= o.warmup) decode.push_back(ms);
    for (size_t b = 0; b < o.batch_sizes.size(); ++b) {
      const double t = time_eval(ctx, next.first(size_t(o.batch_sizes[b])), model::Logits::All);
      ctx.truncate(o.prompt_tokens);
      if (i >= o.warmup) batch[b].push_back(t);
    }
  }
  r.decode_ms = median(decode);
  for (size_t b = 0; b < o.batch_sizes.size(); ++b) {
    const double ms = median(batch[b]);
    r.points.push_back({o.batch_sizes[b], ms, r.decode_ms > 0 ? ms / r.decode_ms : 0});
  }
  return r;
}

nlohmann::json to_json(const VerifyCost& v) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& p : v.points) points.push_back({{"n_tokens", p.n_tokens}, {"ms", p.ms}, {"ratio", p.ratio}});
  return {{"device", v.device},           {"prompt_tokens", v.prompt_tokens},
          {"prefill_ms", v.prefill_ms},   {"prefill_tokens_per_second", v.prefill_tps()},
          {"decode_ms", v.decode_ms},     {"decode_tokens_per_second", v.decode_tps()},
          {"points", points}};
}

std::string format_verify_cost(const VerifyCost& v, const std::string& model_label) {
  char line[256];
  std::string out = "\nverify cost: " + model_label + " on " + v.device + "\n";
  std::snprintf(line, sizeof line, "prefill: %lld tokens in %.2f ms (%.1f tokens/s)\n",
                static_cast<long long>(v.prompt_tokens), v.prefill_ms, v.prefill_tps());
  out += line;
  std::snprintf(line, sizeof line, "decode:  %.3f ms per token (%.2f tokens/s)\n", v.decode_ms, v.decode_tps());
  out += line;
  out += "  K   ms/pass   cost vs 1 decode step   ms per token\n";
  for (const auto& p : v.points) {
    std::snprintf(line, sizeof line, "%3lld %9.3f %12.2fx %17.3f\n", static_cast<long long>(p.n_tokens), p.ms,
                  p.ratio, p.ms / double(p.n_tokens));
    out += line;
  }
  return out;
}

}  // namespace amusd::bench
