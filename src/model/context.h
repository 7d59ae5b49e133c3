// A sequence being decoded: a model, the device it runs on, its own KV cache and scratch buffers.
// Many Contexts can share one Model; Contexts on disjoint devices can run at the same time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/device.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace amusd::model {

enum class Logits {
  Last,  // logits of the last token only (plain decoding, prefill)
  All,   // logits of every token (verification)
};

struct ContextOptions {
  int64_t n_ctx = 0;                 // KV slots; 0 = the model's training context, capped at 4096
  DType kv_type = DType::F16;        // KV cache element type: F16 (as the reference engine) or F32
  int64_t max_batch = 256;           // tokens per internal forward pass; longer inputs are split
};

class Context {
 public:
  Context(const Model& model, backend::CpuDevice& device, ContextOptions options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Model& model() const { return model_; }
  backend::CpuDevice& device() { return device_; }
  int64_t n_past() const { return kv_.size(); }     // tokens in the KV cache
  int64_t n_ctx() const { return kv_.capacity(); }
  const kv::KvCache& kv() const { return kv_; }

  // Runs `tokens` through the model after the n_past() cached ones, at positions n_past() + i (or `positions` if
  // given, one per token), and appends their keys/values. Returns logits: rows of n_vocab floats, one row for
  // Logits::Last, tokens.size() rows for Logits::All. Valid until the next eval().
  // Requires 1 <= tokens.size() and n_past() + tokens.size() <= n_ctx(); throws Error on out-of-range ids or overflow.
  std::span<const float> eval(std::span<const int32_t> tokens, Logits mode, std::span<const int32_t> positions = {});

  // Forgets cached tokens from n on (rollback after a rejected draft). O(1).
  void truncate(int64_t n) { kv_.truncate(n); }
  void clear() { kv_.clear(); }

  int64_t n_vocab() const { return model_.hparams().n_vocab; }

 private:
  struct Workspace;
  void forward_batch(std::span<const int32_t> tokens, std::span<const int32_t> positions, bool all_logits,
                     float* logits);

  const Model& model_;
  backend::CpuDevice& device_;
  ContextOptions options_;
  kv::KvCache kv_;
  std::unique_ptr<Workspace> ws_;
  std::vector<float> logits_;
};

}  // namespace amusd::model
