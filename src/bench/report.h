// The benchmark's HTML report: one self-contained file (inline CSS and SVG, no scripts, no external resources),
// rendered from the results JSON (see results.h), so a saved JSON can be re-rendered later. It shows:
//   (a) a timeline of one sample for each strategy, one lane per device (prefill / draft / verify bars, idle gaps,
//       rollback markers, emitted tokens), in the style of the AMUSD paper's synchronous-vs-asynchronous figure;
//   (b) speedup over ar per strategy and dataset; (c) the histogram of accepted draft tokens per verification;
//   (d) speedup against acceptance rate across model pairs, sd vs amusd;
// plus, when measured, the roofline and the verification cost, and the full results table.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace amusd::bench {

// The whole HTML page. Throws Error if the document lacks a field the report needs.
std::string render_report(const nlohmann::json& results);

}  // namespace amusd::bench
