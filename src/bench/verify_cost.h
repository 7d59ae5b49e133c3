// What batched verification costs: the time of one target forward pass over K tokens (logits of every token, as a
// verifier needs) relative to one plain decode step. Speculative decoding pays off only while verifying K tokens
// costs little more than decoding one; these ratios, prefill tokens/s and decode tokens/s are the engine's speed
// targets.
//
// Method: prefill the prompt once, then in each round time one decode step (1 token, last logits) and one pass of
// each K (all logits), rolling the KV cache back to the prompt after each, so every pass sees the same context.
// Rounds interleave the sizes (slow drifts of a shared machine hit them alike); warm-up rounds are discarded and the
// median of the rest counts. Prefill: the median of separate prompt passes.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "backend/device.h"
#include "model/context.h"
#include "model/model.h"

namespace amusd::bench {

struct VerifyCostOptions {
  int64_t prompt_tokens = 64;
  std::vector<int64_t> batch_sizes = {1, 2, 4, 8, 16};
  int warmup = 2;                  // discarded rounds
  int reps = 11;                   // timed rounds (and prefill passes)
};

struct VerifyCostPoint {
  int64_t n_tokens = 0;            // K
  double ms = 0;                   // median time of one pass over K tokens
  double ratio = 0;                // ms / decode step ms
};

struct VerifyCost {
  std::string device;              // described
  int64_t prompt_tokens = 0;
  double prefill_ms = 0;           // median, prompt_tokens in one call
  double decode_ms = 0;            // median, one token, last logits only
  std::vector<VerifyCostPoint> points;
  double prefill_tps() const { return prefill_ms > 0 ? 1000.0 * double(prompt_tokens) / prefill_ms : 0; }
  double decode_tps() const { return decode_ms > 0 ? 1000.0 / decode_ms : 0; }
};

// Measures on `device`. Throws Error for options out of range or a context too small for the prompt plus the
// largest batch.
VerifyCost measure_verify_cost(const model::Model& target, backend::CpuDevice& device,
                               const model::ContextOptions& ctx_options, const VerifyCostOptions& options);

nlohmann::json to_json(const VerifyCost& v);
std::string format_verify_cost(const VerifyCost& v, const std::string& model_label);

}  // namespace amusd::bench
