// Decoding strategies: interchangeable objects behind one interface. A strategy turns a tokenized prompt into
// accepted tokens; it knows nothing about text, stop strings or output (the Session does that).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "decode/stats.h"
#include "sampling/sampler.h"

namespace amusd::decode {

using Token = int32_t;

struct Request {
  std::vector<Token> prompt;              // tokenized, BOS included
  int64_t max_new_tokens = 128;           // a hint: the sink enforces the exact limit
  sampling::SamplerParams sampling;
};

// Receives tokens as they become final, in order. Returns false when generation must end (length limit,
// end of generation, stop string): the strategy then stops at once and emits nothing more.
class TokenSink {
 public:
  virtual ~TokenSink() = default;
  virtual bool accept(std::span<const Token> tokens) = 0;
};

enum class Outcome {
  SinkStopped,   // the sink returned false
  Cancelled,     // the stop token was triggered
  ContextFull,   // no room left in a KV cache
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const = 0;
  // Prefills the prompt and generates until the sink stops it, `stop` is requested, or a context is full.
  // Fills the strategy-specific parts of `stats` (prefill time, device times, timeline, speculative counts).
  // Throws Error if the request cannot run (prompt longer than the context, bad sampling parameters).
  virtual Outcome generate(const Request& request, TokenSink& sink, Stats& stats, std::stop_token stop) = 0;
};

}  // namespace amusd::decode
