// The benchmark's progress line: "[#######.......]  12/40  mt_bench  amusd[0:1]  1m02s elapsed, ETA 2m10s".
#pragma once

#include <string>

#include "bench/runner.h"

namespace amusd::bench {

// "1h02m", "3m05s", "12s"; "?" for a negative duration.
std::string format_duration(double seconds);

// One line without a newline; the bar is `bar_width` characters wide.
std::string format_progress(const Progress& p, int bar_width = 24);

}  // namespace amusd::bench
