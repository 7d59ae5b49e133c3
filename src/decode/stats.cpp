#include "decode/stats.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace amusd::decode {

std::string_view kind_name(TimelineEvent::Kind k) {
  switch (k) {
    case TimelineEvent::Kind::Prefill: return "prefill";
    case TimelineEvent::Kind::Decode: return "decode";
    case TimelineEvent::Kind::Draft: return "draft";
    case TimelineEvent::Kind::Verify: return "verify";
  }
  return "?";
}

std::string format_stats(const Stats& s) {
  std::string out;
  char line[512];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  add("--- statistics: %s ---\n", s.strategy.c_str());
  add("tokens:      prompt %lld, generated %lld\n", static_cast<long long>(s.n_prompt),
      static_cast<long long>(s.n_generated));
  add("wall time:   %.2f ms total, prefill %.2f ms (%.1f tokens/s), first token after %.2f ms\n", s.total_ms,
      s.prefill_ms, s.prefill_ms > 0 ? 1000.0 * double(s.n_prompt) / s.prefill_ms : 0.0, s.first_token_ms);
  add("generation:  %.2f ms, %.3f ms/token, %.2f tokens/s\n", s.generate_ms, s.ms_per_token(), s.tokens_per_second());
  if (s.strategy != "ar") {
    add("speculative: drafted %lld, accepted %lld (acceptance rate %.1f%%), %lld verifications, "
        "mean accepted length %.2f tokens per verification, %lld rollbacks\n",
        static_cast<long long>(s.n_drafted), static_cast<long long>(s.n_accepted), 100.0 * s.acceptance_rate(),
        static_cast<long long>(s.n_verifications), s.mean_accepted_length(), static_cast<long long>(s.n_rollbacks));
    if (!s.accepted_hist.empty()) {
      out += "accepted per verification:";
      for (size_t k = 0; k < s.accepted_hist.size(); ++k)
        if (s.accepted_hist[k]) add(" %zu:%lld", k, static_cast<long long>(s.accepted_hist[k]));
      out += "\n";
    }
  }
  for (const auto& d : s.devices) {
    const double wall = d.busy_ms + d.idle_ms;
    add("device %-40s busy %9.2f ms, idle %9.2f ms (%.1f%% idle)\n", (d.name + ":").c_str(), d.busy_ms, d.idle_ms,
        wall > 0 ? 100.0 * d.idle_ms / wall : 0.0);
  }
  return out;
}

nlohmann::json stats_to_json(const Stats& s) {
  nlohmann::json j;
  j["strategy"] = s.strategy;
  j["n_prompt"] = s.n_prompt;
  j["n_generated"] = s.n_generated;
  j["prefill_ms"] = s.prefill_ms;
  j["first_token_ms"] = s.first_token_ms;
  j["generate_ms"] = s.generate_ms;
  j["total_ms"] = s.total_ms;
  j["ms_per_token"] = s.ms_per_token();
  j["tokens_per_second"] = s.tokens_per_second();
  j["n_drafted"] = s.n_drafted;
  j["n_accepted"] = s.n_accepted;
  j["acceptance_rate"] = s.acceptance_rate();
  j["n_verifications"] = s.n_verifications;
  j["mean_accepted_length"] = s.mean_accepted_length();
  j["n_rollbacks"] = s.n_rollbacks;
  j["accepted_hist"] = s.accepted_hist;
  j["devices"] = nlohmann::json::array();
  for (const auto& d : s.devices) j["devices"].push_back({{"name", d.name}, {"busy_ms", d.busy_ms}, {"idle_ms", d.idle_ms}});
  j["timeline"] = nlohmann::json::array();
  for (const auto& e : s.timeline)
    j["timeline"].push_back({{"kind", kind_name(e.kind)},
                             {"device", e.device},
                             {"start_ms", e.start_ms},
                             {"end_ms", e.end_ms},
                             {"n_tokens", e.n_tokens},
                             {"n_accepted", e.n_accepted},
                             {"rollback", e.rollback}});
  return j;
}

}  // namespace amusd::decode
