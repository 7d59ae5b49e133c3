// The report's figures (internal to report.cpp): each returns a titled figure whose SVG has a stable id.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace amusd::bench::report_detail {

struct Figure {
  std::string title;
  std::string caption;   // HTML
  std::string svg;       // empty: the figure has nothing to show (the caption says why)
};

// Colour of a variant ("ar", "sd", "amusd[0:1]", ...): fixed for ar and sd, a palette for the amusd splits.
std::string variant_color(const nlohmann::json& doc, const std::string& label);

Figure timeline_figure(const nlohmann::json& doc);     // id fig-timeline
Figure speedup_figure(const nlohmann::json& doc);      // id fig-speedup
Figure histogram_figure(const nlohmann::json& doc);    // id fig-accepted
Figure sweep_figure(const nlohmann::json& doc);        // id fig-sweep
Figure roofline_figure(const nlohmann::json& doc);     // id fig-roofline (doc has "roofline")
Figure verify_cost_figure(const nlohmann::json& doc);  // id fig-verify-cost (doc has "verify_cost")

}  // namespace amusd::bench::report_detail
