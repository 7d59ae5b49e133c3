// Measurement is just another streamer: TokenTimer timestamps every token the Session emits.
#pragma once

#include <cstdint>
#include <vector>

#include "decode/stats.h"
#include "engine/streamer.h"

namespace amusd::bench {

class TokenTimer final : public engine::Streamer {
 public:
  // Starts the clock (call right before Session::generate) and forgets earlier tokens.
  void start() {
    t0_ = decode::Clock::now();
    ms_.clear();
  }
  void on_token(int32_t) override { ms_.push_back(decode::ms_between(t0_, decode::Clock::now())); }

  // [i] = milliseconds from start() until token i was emitted.
  const std::vector<double>& token_ms() const { return ms_; }

 private:
  decode::Clock::time_point t0_ = decode::Clock::now();
  std::vector<double> ms_;
};

}  // namespace amusd::bench
