// What a generation measured: counts, times, per-device busy/idle time and a timeline of every step.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace amusd::decode {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct TimelineEvent {
  enum class Kind { Prefill, Decode, Draft, Verify };
  Kind kind = Kind::Decode;
  int device = 0;            // index into Stats::devices
  double start_ms = 0;       // since the start of the generation
  double end_ms = 0;
  int32_t n_tokens = 0;      // tokens evaluated in this step
  int32_t n_accepted = 0;    // Verify: draft tokens accepted
  bool rollback = false;     // Verify: a draft token was rejected; Draft: the draft rolled back before this step
};

std::string_view kind_name(TimelineEvent::Kind k);

struct DeviceStats {
  std::string name;          // "verify: cpu 1, 1 thread"
  double busy_ms = 0;        // time spent in forward passes
  double idle_ms = 0;        // wall time minus busy time
};

struct Stats {
  std::string strategy;
  int64_t n_prompt = 0;
  int64_t n_generated = 0;          // tokens emitted to the caller
  double prefill_ms = 0;            // prompt processing (all devices)
  double first_token_ms = 0;        // from start to the first emitted token
  double generate_ms = 0;           // from end of prefill to the last emitted token
  double total_ms = 0;

  // Speculative decoding
  int64_t n_drafted = 0;            // draft tokens proposed to the verifier
  int64_t n_accepted = 0;           // of those, accepted
  int64_t n_verifications = 0;      // target forward passes over drafted tokens
  int64_t n_rollbacks = 0;          // times a draft had to discard tokens
  std::vector<int64_t> accepted_hist;  // [k] = verifications that accepted k draft tokens

  std::vector<DeviceStats> devices;
  std::vector<TimelineEvent> timeline;

  double ms_per_token() const { return n_generated ? generate_ms / double(n_generated) : 0; }
  double tokens_per_second() const { return generate_ms > 0 ? 1000.0 * double(n_generated) / generate_ms : 0; }
  double acceptance_rate() const { return n_drafted ? double(n_accepted) / double(n_drafted) : 0; }
  // Mean tokens emitted per verification: accepted draft tokens + the verifier's own token.
  double mean_accepted_length() const {
    return n_verifications ? double(n_accepted + n_verifications) / double(n_verifications) : 0;
  }
};

// A human-readable statistics block (several lines).
std::string format_stats(const Stats& s);
// Statistics plus the timeline as JSON (used by --stats-json and the benchmark).
nlohmann::json stats_to_json(const Stats& s);

}  // namespace amusd::decode
