#include "bench/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace amusd::bench {

std::string format_duration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "?";
  const long long s = std::llround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

std::string format_progress(const Progress& p, int bar_width) {
  const double frac = p.total > 0 ? std::clamp(double(p.done) / double(p.total), 0.0, 1.0) : 0.0;
  const int filled = int(std::lround(frac * bar_width));
  std::string bar = "[" + std::string(size_t(filled), '#') + std::string(size_t(bar_width - filled), '.') + "]";
  char buf[256];
  std::snprintf(buf, sizeof buf, " %lld/%lld (%3.0f%%)  ", static_cast<long long>(p.done),
                static_cast<long long>(p.total), 100.0 * frac);
  std::string line = bar + buf + p.pair + "  " + p.dataset + "  " + p.variant + "  " + format_duration(p.elapsed_s) +
                     " elapsed";
  if (p.eta_s >= 0) line += ", ETA " + format_duration(p.eta_s);
  return line;
}

}  // namespace amusd::bench
