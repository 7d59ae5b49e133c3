// A tiny writer for inline SVG and HTML: escaping, number formatting, linear scales, "nice" axis ticks, and an Svg
// builder whose elements can carry a hover tooltip (<title>). Output is well-formed XML.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace amusd::bench::svg {

// Escapes & < > " ' for text and attribute values.
std::string esc(std::string_view s);

// x with `decimals` digits after the point, C locale ("1.50"); "-" for NaN/inf.
std::string num(double x, int decimals = 1);

// Maps the domain [d0, d1] linearly onto the range [r0, r1].
struct Linear {
  double d0 = 0, d1 = 1, r0 = 0, r1 = 1;
  double operator()(double x) const { return d1 == d0 ? r0 : r0 + (x - d0) * (r1 - r0) / (d1 - d0); }
};

// About `target` round tick values (steps of 1, 2 or 5 x 10^k) covering [lo, hi]: the first <= lo, the last >= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Decimals needed to print ticks of this step ("0.25" -> 2).
int tick_decimals(double step);

// Rough width in px of text in the report's sans-serif font.
double text_width(std::string_view s, double font_px);

class Svg {
 public:
  // An <svg> of width x height px (scales down with the page), with an id and an accessible title.
  Svg(double width, double height, std::string_view id, std::string_view title);

  // `attrs`: extra attributes, written verbatim (e.g. R"(class="bar" rx="2")"). `tip`: hover text (escaped).
  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view attrs = "",
            std::string_view tip = "");
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
            std::string_view attrs = "");
  void circle(double cx, double cy, double r, std::string_view fill, std::string_view attrs = "",
              std::string_view tip = "");
  void path(std::string_view d, std::string_view fill, std::string_view stroke, std::string_view attrs = "",
            std::string_view tip = "");
  // Text is escaped; anchor: start, middle or end.
  void text(double x, double y, std::string_view s, std::string_view cls = "", std::string_view anchor = "start",
            std::string_view attrs = "");
  void raw(std::string_view markup) { out_ += markup; }

  std::string finish();

 private:
  void close(std::string_view tag, std::string_view tip);
  std::string out_;
};

}  // namespace amusd::bench::svg
