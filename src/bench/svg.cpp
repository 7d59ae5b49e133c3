#include "bench/svg.h"

#include <cmath>
#include <cstdio>

namespace amusd::bench::svg {

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double x, int decimals) {
  if (!std::isfinite(x)) return "-";
  if (std::abs(x) < 0.5 * std::pow(10.0, -decimals)) x = 0;  // no "-0.0"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t < hi + step - 1e-9 * step; t += step) ticks.push_back(std::abs(t) < 1e-12 ? 0 : t);
  return ticks;
}

int tick_decimals(double step) {
  int d = 0;
  while (d < 6 && std::abs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-6) ++d;
  return d;
}

double text_width(std::string_view s, double font_px) {
  double w = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
    w += (c >= 'A' && c <= 'Z') ? 0.64 : (c == ' ' || c == '.' || c == ',' || c == ':' || c == 'i' || c == 'l') ? 0.3
                                                                                                                 : 0.55;
  }
  return w * font_px;
}

Svg::Svg(double width, double height, std::string_view id, std::string_view title) {
  out_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + esc(id) + "\" viewBox=\"0 0 " + num(width, 0) + " " +
         num(height, 0) + "\" width=\"" + num(width, 0) + "\" height=\"" + num(height, 0) +
         "\" role=\"img\" aria-label=\"" + esc(title) + "\"><title>" + esc(title) + "</title>";
}

void Svg::close(std::string_view tag, std::string_view tip) {
  if (tip.empty()) {
    out_ += "/>";
  } else {
    out_ += "><title>" + esc(tip) + "</title></" + std::string(tag) + ">";
  }
}

void Svg::rect(double x, double y, double w, double h, std::string_view fill, std::string_view attrs,
               std::string_view tip) {
  out_ += "<rect x=\"" + num(x, 2) + "\" y=\"" + num(y, 2) + "\" width=\"" + num(std::max(0.0, w), 2) +
          "\" height=\"" + num(std::max(0.0, h), 2) + "\" fill=\"" + esc(fill) + "\"";
  if (!attrs.empty()) out_ += " " + std::string(attrs);
  close("rect", tip);
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
               std::string_view attrs) {
  out_ += "<line x1=\"" + num(x1, 2) + "\" y1=\"" + num(y1, 2) + "\" x2=\"" + num(x2, 2) + "\" y2=\"" + num(y2, 2) +
          "\" stroke=\"" + esc(stroke) + "\" stroke-width=\"" + num(width, 2) + "\"";
  if (!attrs.empty()) out_ += " " + std::string(attrs);
  out_ += "/>";
}

void Svg::circle(double cx, double cy, double r, std::string_view fill, std::string_view attrs, std::string_view tip) {
  out_ += "<circle cx=\"" + num(cx, 2) + "\" cy=\"" + num(cy, 2) + "\" r=\"" + num(r, 2) + "\" fill=\"" + esc(fill) +
          "\"";
  if (!attrs.empty()) out_ += " " + std::string(attrs);
  close("circle", tip);
}

void Svg::path(std::string_view d, std::string_view fill, std::string_view stroke, std::string_view attrs,
               std::string_view tip) {
  out_ += "<path d=\"" + esc(d) + "\" fill=\"" + esc(fill) + "\" stroke=\"" + esc(stroke) + "\"";
  if (!attrs.empty()) out_ += " " + std::string(attrs);
  close("path", tip);
}

void Svg::text(double x, double y, std::string_view s, std::string_view cls, std::string_view anchor,
               std::string_view attrs) {
  out_ += "<text x=\"" + num(x, 2) + "\" y=\"" + num(y, 2) + "\"";
  if (!cls.empty()) out_ += " class=\"" + esc(cls) + "\"";
  if (anchor != "start") out_ += " text-anchor=\"" + esc(anchor) + "\"";
  if (!attrs.empty()) out_ += " " + std::string(attrs);
  out_ += ">" + esc(s) + "</text>";
}

std::string Svg::finish() { return out_ + "</svg>"; }

}  // namespace amusd::bench::svg
