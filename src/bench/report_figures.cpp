#include "bench/report_figures.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "bench/svg.h"

namespace amusd::bench::report_detail {

using nlohmann::json;
using svg::esc;
using svg::Linear;
using svg::num;
using svg::Svg;

namespace {

// ---------------------------------------------------------------------------------------------------------
// Colours and shared pieces

constexpr const char* kInk = "#1f2933";
constexpr const char* kMuted = "#6b7785";
constexpr const char* kGrid = "#e7eaef";
constexpr const char* kAxis = "#a3adb9";
constexpr const char* kPrefill = "#c5ccd6";
constexpr const char* kDraft = "#f0a43a";
constexpr const char* kVerify = "#3f6fb5";
constexpr const char* kDecode = "#5c9ea6";
constexpr const char* kRollback = "#d62839";
constexpr const char* kAmusdPalette[] = {"#e8702a", "#c2185b", "#2e9e6b", "#8e5ac8", "#b58b00"};

std::vector<std::string> variant_labels(const json& doc, bool speculative_only) {
  std::vector<std::string> out;
  for (const auto& v : doc.at("variants"))
    if (!speculative_only || v.at("strategy").get<std::string>() != "ar") out.push_back(v.at("label"));
  return out;
}

bool has_variant(const json& doc, const std::string& label) {
  const auto all = variant_labels(doc, false);
  return std::find(all.begin(), all.end(), label) != all.end();
}

const json* find_row(const json& rows, int pair, int dataset, const std::string& variant) {
  for (const auto& r : rows)
    if (r.at("pair").get<int>() == pair && r.at("dataset").get<int>() == dataset && r.at("variant") == variant) return &r;
  return nullptr;
}

std::string pct(double x, int decimals = 0) { return num(100.0 * x, decimals) + "%"; }

// Horizontal grid lines with labels on the left, for a value axis.
void y_grid(Svg& s, const Linear& y, const std::vector<double>& ticks, double x0, double x1,
            const std::string& suffix = "", double scale = 1) {
  const int dec = ticks.size() > 1 ? svg::tick_decimals((ticks[1] - ticks[0]) * scale) : 0;
  for (double t : ticks) {
    s.line(x0, y(t), x1, y(t), kGrid, 1);
    s.text(x0 - 8, y(t) + 4, num(t * scale, dec) + suffix, "tick", "end");
  }
}

// Vertical grid lines with labels below, for a value axis along x.
void x_grid(Svg& s, const Linear& x, const std::vector<double>& ticks, double y0, double y1,
            const std::string& suffix = "", double scale = 1) {
  const int dec = ticks.size() > 1 ? svg::tick_decimals((ticks[1] - ticks[0]) * scale) : 0;
  for (double t : ticks) {
    s.line(x(t), y0, x(t), y1, kGrid, 1);
    s.text(x(t), y1 + 16, num(t * scale, dec) + suffix, "tick", "middle");
  }
}

void y_title(Svg& s, double x, double y_mid, const std::string& title) {
  s.text(x, y_mid, title, "axis-title", "middle",
         "transform=\"rotate(-90 " + num(x, 1) + " " + num(y_mid, 1) + ")\"");
}

struct LegendItem {
  std::string label;
  std::string color;
  enum class Shape { Box, Marker, Tick, Dashed, Dot } shape = Shape::Box;
};

// Draws the legend left to right from (x, y) (y = text baseline); returns its width.
double legend(Svg& s, double x, double y, const std::vector<LegendItem>& items) {
  const double x_start = x;
  for (const auto& it : items) {
    switch (it.shape) {
      case LegendItem::Shape::Box: s.rect(x, y - 10, 14, 11, it.color, "rx=\"2\""); break;
      case LegendItem::Shape::Marker:
        s.path("M" + num(x + 1, 1) + " " + num(y - 10, 1) + " h12 l-6 9 z", it.color, "none");
        break;
      case LegendItem::Shape::Tick: s.line(x + 7, y - 11, x + 7, y + 1, it.color, 1.6); break;
      case LegendItem::Shape::Dashed: s.line(x, y - 4, x + 18, y - 4, it.color, 1.5, "stroke-dasharray=\"4 3\""); break;
      case LegendItem::Shape::Dot: s.circle(x + 7, y - 4, 5, it.color, "stroke=\"#fff\" stroke-width=\"1.5\""); break;
    }
    const double sw = it.shape == LegendItem::Shape::Dashed ? 24 : 20;
    s.text(x + sw, y, it.label, "legend");
    x += sw + svg::text_width(it.label, 12) + 22;
  }
  return x - x_start;
}

// ---------------------------------------------------------------------------------------------------------
// (a) Timeline

struct Panel {
  std::string variant, strategy;
  const json* sample = nullptr;
  double offset = 0;                     // ms: the prefill, excluded from the window
  std::vector<std::string> lanes;        // per device: "cpu 1 · verify"
};

std::string lane_label(const std::string& device, const std::string& strategy) {
  // Device names look like "verify: cpu 1, 1 thread, avx512".
  const size_t colon = device.find(':');
  std::string role = colon == std::string::npos ? device : device.substr(0, colon);
  std::string where = colon == std::string::npos ? "" : device.substr(colon + 1);
  where = where.substr(where.find_first_not_of(' ') == std::string::npos ? 0 : where.find_first_not_of(' '));
  where = where.substr(0, where.find(','));
  if (strategy == "ar") role = "decode";
  if (strategy == "sd") role = "draft + verify";
  return where.empty() ? role : where + " · " + role;
}

std::vector<Panel> timeline_panels(const json& doc) {
  std::vector<Panel> panels;
  int n_amusd = 0;
  for (const auto& v : doc.at("variants")) {
    const std::string label = v.at("label"), strategy = v.at("strategy");
    if (strategy == "amusd" && ++n_amusd > 3) continue;
    for (const auto& s : doc.at("samples")) {
      if (s.at("pair").get<int>() != 0 || s.at("dataset").get<int>() != 0 || s.at("index").get<int64_t>() != 0 ||
          s.at("rep").get<int>() != 0 || s.at("variant") != label || s.at("token_ms").empty())
        continue;
      Panel p{label, strategy, &s, s.at("stats").at("prefill_ms").get<double>(), {}};
      for (const auto& d : s.at("stats").at("devices")) p.lanes.push_back(lane_label(d.at("name"), strategy));
      panels.push_back(std::move(p));
      break;
    }
  }
  return panels;
}

std::string panel_title(const Panel& p) {
  if (p.strategy == "ar") return p.variant + " · autoregressive: one target pass per token";
  if (p.strategy == "sd") return p.variant + " · synchronous: the draft proposes, then the target verifies, in turn";
  return p.variant + " · asynchronous: the draft keeps drafting while the verifier verifies";
}

std::string ordinal(size_t n) {
  const size_t t = n % 100, u = n % 10;
  const char* suffix = (t >= 11 && t <= 13) ? "th" : u == 1 ? "st" : u == 2 ? "nd" : u == 3 ? "rd" : "th";
  return std::to_string(n) + suffix;
}

std::string event_tip(const json& e, double offset) {
  const std::string kind = e.at("kind");
  const double t0 = e.at("start_ms").get<double>() - offset, t1 = e.at("end_ms").get<double>() - offset;
  const int n = e.at("n_tokens"), acc = e.at("n_accepted");
  const bool rb = e.at("rollback");
  std::string tip = kind + ": " + std::to_string(n) + (n == 1 ? " token" : " tokens");
  if (kind == "verify") tip += ", " + std::to_string(acc) + " accepted" + (rb ? ", a draft token rejected" : "");
  if (kind == "draft" && rb) tip += ", after a rollback";
  return tip + " — " + num(t1 - t0, 2) + " ms (" + num(t0, 1) + " to " + num(t1, 1) + " ms)";
}

}  // namespace

std::string variant_color(const json& doc, const std::string& label) {
  if (label == "ar") return "#8a94a3";
  if (label == "sd") return "#3f6fb5";
  int i = 0;
  for (const auto& v : doc.at("variants")) {
    if (v.at("strategy") != "amusd") continue;
    if (v.at("label") == label) return kAmusdPalette[i % 5];
    ++i;
  }
  return kInk;
}

namespace {

// Geometry of the timeline figure (px).
struct TimelineLayout {
  double W = 1132, L = 168, R = 24;           // width, left gutter (lane labels), right margin
  double lane_h = 20, lane_gap = 8, title_h = 22, token_h = 16, panel_gap = 18, top = 44;
  double t_end = 1;                            // ms shown after the first token
  Linear x;                                    // ms -> px
  double panel_height(const Panel& p) const {
    return title_h + double(p.lanes.size()) * (lane_h + lane_gap) + token_h + panel_gap;
  }
};

// One forward pass as a bar in its device's lane (lanes start at y), with the rollback marker if it has one.
void draw_event(Svg& s, const TimelineLayout& g, const json& e, double offset, size_t n_lanes, double y) {
  const double t0 = e.at("start_ms").get<double>() - offset, t1 = e.at("end_ms").get<double>() - offset;
  if (t1 <= 0 || t0 >= g.t_end) return;
  const size_t lane = std::min(n_lanes - 1, e.at("device").get<size_t>());
  const double ly = y + double(lane) * (g.lane_h + g.lane_gap);
  const std::string kind = e.at("kind");
  const char* color = kind == "prefill" ? kPrefill : kind == "draft" ? kDraft : kind == "verify" ? kVerify : kDecode;
  const double x0 = g.x(std::max(0.0, t0)), x1 = g.x(std::min(g.t_end, t1));
  s.rect(x0, ly + 1, std::max(0.8, x1 - x0), g.lane_h - 2, color, "stroke=\"#fff\" stroke-width=\"0.6\"",
         event_tip(e, offset));
  if (kind == "verify" && x1 - x0 > 16)
    s.text((x0 + x1) / 2, ly + 14, "+" + std::to_string(e.at("n_accepted").get<int>()), "bar-label", "middle");
  if (e.at("rollback").get<bool>()) {
    const double mx = kind == "verify" ? x1 : x0;  // a verification rejects at its end; a draft rolls back first
    s.path("M" + num(mx - 4.5, 1) + " " + num(ly - 6, 1) + " h9 l-4.5 7 z", kRollback, "none", "",
           kind == "verify" ? "a draft token was rejected here" : "the draft rolled back before this step");
    if (kind == "draft") s.line(mx, ly, mx, ly + g.lane_h, kRollback, 1.4);
  }
}

// A panel: title, lanes with their bars, the emitted tokens and a flag at the `shown`-th token. Returns its bottom.
double draw_panel(Svg& s, const TimelineLayout& g, const json& doc, const Panel& p, size_t shown,
                  const std::vector<double>& ticks, double y) {
  const auto& token_ms = p.sample->at("token_ms");
  const double t_n = token_ms[shown - 1].get<double>() - p.offset;
  s.text(g.L, y + 14, panel_title(p), "panel-title");
  s.text(g.W - g.R, y + 14,
         std::to_string(shown) + " tokens in " + num(t_n, t_n < 100 ? 1 : 0) + " ms · prefill of " +
             num(p.offset, p.offset < 100 ? 1 : 0) + " ms not shown",
         "panel-note", "end");
  y += g.title_h;
  const double lanes_h = double(p.lanes.size()) * (g.lane_h + g.lane_gap);
  for (size_t lane = 0; lane < p.lanes.size(); ++lane) {
    const double ly = y + double(lane) * (g.lane_h + g.lane_gap);
    s.rect(g.L, ly, g.W - g.R - g.L, g.lane_h, "#f6f7f9", "rx=\"3\"");
    s.text(g.L - 10, ly + 14, p.lanes[lane], "lane", "end");
  }
  for (double t : ticks)
    if (t <= g.t_end) s.line(g.x(t), y - 2, g.x(t), y + lanes_h + g.token_h - 4, kGrid, 1);
  for (const auto& e : p.sample->at("stats").at("timeline")) draw_event(s, g, e, p.offset, p.lanes.size(), y);

  const double ty = y + lanes_h;
  for (const auto& t : token_ms) {
    const double tt = t.get<double>() - p.offset;
    if (tt >= 0 && tt <= g.t_end) s.line(g.x(tt), ty, g.x(tt), ty + 8, kInk, 1.2);
  }
  s.text(g.L - 10, ty + 8, "tokens", "lane muted", "end");
  s.path("M" + num(g.x(t_n), 1) + " " + num(ty + 10, 1) + " v-14 h9 l-3 3.5 l3 3.5 h-9", "none",
         variant_color(doc, p.variant), "stroke-width=\"1.6\"");
  return ty + g.token_h + g.panel_gap;
}

void draw_time_axis(Svg& s, const TimelineLayout& g, const std::vector<double>& ticks, double y) {
  s.line(g.L, y, g.W - g.R, y, kAxis, 1);
  const int dec = svg::tick_decimals(ticks.size() > 1 ? ticks[1] - ticks[0] : 1);
  for (double t : ticks) {
    if (t > g.t_end) continue;
    s.line(g.x(t), y, g.x(t), y + 5, kAxis, 1);
    s.text(g.x(t), y + 19, num(t, dec), "tick", "middle");
  }
  s.text((g.L + g.W - g.R) / 2, y + 36, "milliseconds after the first token (prefill excluded)", "axis-title", "middle");
}

}  // namespace

Figure timeline_figure(const json& doc) {
  Figure f;
  f.title = "Where the time goes: one sample, device by device";
  const std::vector<Panel> panels = timeline_panels(doc);
  if (panels.empty()) {
    f.caption = "No sample of the first dataset generated any token, so there is no timeline to show.";
    return f;
  }
  // Window: from the first token (prefill excluded) until every panel has emitted `shown` tokens.
  size_t shown = 32;
  for (const auto& p : panels) shown = std::min(shown, p.sample->at("token_ms").size());
  TimelineLayout g;
  for (const auto& p : panels)
    g.t_end = std::max(g.t_end, p.sample->at("token_ms")[shown - 1].get<double>() - p.offset);
  g.t_end *= 1.04;
  g.x = Linear{0, g.t_end, g.L, g.W - g.R};
  double H = g.top + 40;
  for (const auto& p : panels) H += g.panel_height(p);
  Svg s(g.W, H, "fig-timeline", "Timeline of one sample per strategy");

  std::vector<LegendItem> items = {{"prefill", kPrefill}, {"drafting", kDraft}, {"verifying (target pass)", kVerify}};
  if (panels.front().strategy == "ar") items.push_back({"decoding (target pass)", kDecode});
  items.push_back({"rollback / rejected draft", kRollback, LegendItem::Shape::Marker});
  items.push_back({"token emitted", kInk, LegendItem::Shape::Tick});
  legend(s, g.L, 18, items);

  const auto ticks = svg::nice_ticks(0, g.t_end, 10);
  double y = g.top;
  for (const auto& p : panels) y = draw_panel(s, g, doc, p, shown, ticks, y);
  draw_time_axis(s, g, ticks, y - g.panel_gap + 4);
  f.svg = s.finish();

  const json& ds = doc.at("datasets")[0];
  f.caption = "The first sample of <b>" + esc(ds.at("name").get<std::string>()) + "</b> on every strategy, up to the " +
              ordinal(shown) +
              " generated token. One lane per device: bars are forward passes, gaps are idle time. "
              "In <b>sd</b> the draft and the target share one device and take turns; in <b>amusd</b> the draft "
              "keeps proposing on its own core while the verifier checks the tokens published so far, and rolls "
              "back (<span style=\"color:" + std::string(kRollback) + "\">&#9660;</span>) when the verifier rejects "
              "one. The flag marks the " + ordinal(shown) + " token. Hover a bar for details.";
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// (b) Speedup over ar

Figure speedup_figure(const json& doc) {
  Figure f;
  f.title = "Speedup over autoregressive decoding";
  const auto spec = variant_labels(doc, true);
  if (!has_variant(doc, "ar") || spec.empty()) {
    f.caption = "Needs <b>ar</b> and at least one speculative strategy among <code>--strategies</code>.";
    return f;
  }
  struct Group {
    std::string name;
    std::vector<const json*> rows;  // per speculative variant
  };
  std::vector<Group> groups;
  const auto& datasets = doc.at("datasets");
  for (size_t d = 0; d < datasets.size(); ++d) {
    Group g{datasets[d].at("name")};
    for (const auto& v : spec) g.rows.push_back(find_row(doc.at("table"), 0, int(d), v));
    groups.push_back(std::move(g));
  }
  if (datasets.size() > 1) {
    Group g{"all datasets"};
    for (const auto& v : spec) g.rows.push_back(find_row(doc.at("sweep"), 0, -1, v));
    groups.push_back(std::move(g));
  }
  double vmax = 1.25;
  for (const auto& g : groups)
    for (const json* r : g.rows)
      if (r) vmax = std::max(vmax, r->at("speedup").get<double>() * 1.15);

  const double W = 535, H = 330, L = 58, R = 16, T = 44, B = 48;
  Svg s(W, H, "fig-speedup", "Speedup over ar per strategy and dataset");
  const auto ticks = svg::nice_ticks(0, vmax, 5);
  const Linear y{0, ticks.back(), H - B, T};
  y_grid(s, y, ticks, L, W - R, "×");
  y_title(s, 16, (T + H - B) / 2, "speedup over ar (×)");
  std::vector<LegendItem> items;
  for (const auto& v : spec) items.push_back({v, variant_color(doc, v)});
  legend(s, L, 20, items);

  const double gw = (W - R - L) / double(groups.size());
  const double bw = std::min(46.0, gw * 0.72 / double(spec.size()));
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const double gx = L + gw * double(gi) + (gw - bw * double(spec.size())) / 2;
    for (size_t vi = 0; vi < spec.size(); ++vi) {
      const json* r = groups[gi].rows[vi];
      if (!r) continue;
      const double v = r->at("speedup").get<double>();
      const double bx = gx + bw * double(vi);
      const std::string tip = spec[vi] + " on " + groups[gi].name + ": " + num(v, 2) + "× (" +
                              num(r->at("ms_per_token").get<double>(), 2) + " ms/token, " +
                              pct(r->at("acceptance_rate").get<double>(), 1) + " accepted)";
      s.rect(bx + 2, y(v), bw - 4, y(0) - y(v), variant_color(doc, spec[vi]), "rx=\"2\"", tip);
      s.text(bx + bw / 2, y(v) - 6, num(v, 2) + "×", "value", "middle");
    }
    s.text(L + gw * (double(gi) + 0.5), H - B + 20, groups[gi].name, "category", "middle");
  }
  s.line(L, y(1), W - R, y(1), kInk, 1.2, "stroke-dasharray=\"5 4\"");
  s.text(W - R - 2, y(1) - 5, "ar = 1×", "tick", "end");
  s.line(L, y(0), W - R, y(0), kAxis, 1);
  f.svg = s.finish();
  f.caption = "Mean ms/token of <b>ar</b> divided by each strategy's, per dataset (all samples and repetitions "
              "pooled). Above the dashed line the strategy is faster than plain decoding.";
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// (c) Accepted draft tokens per verification

Figure histogram_figure(const json& doc) {
  Figure f;
  f.title = "Accepted draft tokens per verification";
  const auto spec = variant_labels(doc, true);
  std::vector<std::pair<std::string, const json*>> rows;
  size_t n_bins = 0;
  for (const auto& v : spec)
    if (const json* r = find_row(doc.at("sweep"), 0, -1, v); r && r->at("verifications").get<int64_t>() > 0) {
      rows.emplace_back(v, r);
      n_bins = std::max(n_bins, r->at("accepted_hist").size());
    }
  if (rows.empty() || n_bins == 0) {
    f.caption = "No speculative strategy verified any draft token.";
    return f;
  }
  std::vector<std::vector<double>> share;  // [variant][k]
  double vmax = 0.05;
  for (const auto& [v, r] : rows) {
    const auto hist = r->at("accepted_hist").get<std::vector<int64_t>>();
    const double total = double(r->at("verifications").get<int64_t>());
    std::vector<double> sh(n_bins, 0.0);
    for (size_t k = 0; k < hist.size(); ++k) sh[k] = double(hist[k]) / total;
    for (double x : sh) vmax = std::max(vmax, x * 1.12);
    share.push_back(std::move(sh));
  }
  const double W = 535, H = 330, L = 58, R = 16, T = 44, B = 48;
  Svg s(W, H, "fig-accepted", "Histogram of accepted draft tokens per verification");
  const auto ticks = svg::nice_ticks(0, std::min(1.0, vmax), 5);
  const Linear y{0, ticks.back(), H - B, T};
  y_grid(s, y, ticks, L, W - R, "%", 100);
  y_title(s, 16, (T + H - B) / 2, "share of verifications");
  std::vector<LegendItem> items;
  for (const auto& [v, r] : rows)
    items.push_back({v + " (mean " + num(r->at("mean_accepted_length").get<double>(), 2) + " tokens/pass)",
                     variant_color(doc, v)});
  legend(s, L, 20, items);
  const double gw = (W - R - L) / double(n_bins);
  const double bw = std::min(28.0, gw * 0.8 / double(rows.size()));
  for (size_t k = 0; k < n_bins; ++k) {
    const double gx = L + gw * double(k) + (gw - bw * double(rows.size())) / 2;
    for (size_t vi = 0; vi < rows.size(); ++vi) {
      const double v = share[vi][k];
      const double bx = gx + bw * double(vi);
      s.rect(bx + 1, y(v), bw - 2, y(0) - y(v), variant_color(doc, rows[vi].first), "rx=\"1.5\"",
             rows[vi].first + ": " + std::to_string(k) + " accepted in " + pct(v, 1) + " of verifications");
    }
    s.text(L + gw * (double(k) + 0.5), H - B + 18, std::to_string(k), "category", "middle");
  }
  s.line(L, y(0), W - R, y(0), kAxis, 1);
  s.text((L + W - R) / 2, H - 8, "draft tokens accepted in one verification", "axis-title", "middle");
  f.svg = s.finish();
  f.caption = "How many of the drafted tokens each target pass accepted (every dataset pooled). Each pass also emits "
              "one token of its own, so the mean accepted length is this plus one.";
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// (d) Sweep: speedup against acceptance rate across pairs

Figure sweep_figure(const json& doc) {
  Figure f;
  f.title = "Speedup against acceptance rate, across target/draft pairs";
  const auto spec = variant_labels(doc, true);
  const auto& pairs = doc.at("pairs");
  if (!has_variant(doc, "ar") || spec.empty()) {
    f.caption = "Needs <b>ar</b> and at least one speculative strategy among <code>--strategies</code>.";
    return f;
  }
  struct Point {
    double x, y;
    int pair;
  };
  std::map<std::string, std::vector<Point>> series;
  double x_lo = 1, x_hi = 0, y_hi = 1.25;
  for (const auto& v : spec)
    for (size_t p = 0; p < pairs.size(); ++p)
      if (const json* r = find_row(doc.at("sweep"), int(p), -1, v); r && r->at("drafted").get<int64_t>() > 0) {
        const Point pt{r->at("acceptance_rate").get<double>(), r->at("speedup").get<double>(), int(p)};
        series[v].push_back(pt);
        x_lo = std::min(x_lo, pt.x);
        x_hi = std::max(x_hi, pt.x);
        y_hi = std::max(y_hi, pt.y * 1.15);
      }
  if (series.empty()) {
    f.caption = "No speculative strategy drafted any token.";
    return f;
  }
  const double pad = std::max(0.05, (x_hi - x_lo) * 0.12);
  const auto xticks = svg::nice_ticks(std::max(0.0, x_lo - pad), std::min(1.0, x_hi + pad), 6);
  const auto yticks = svg::nice_ticks(0, y_hi, 5);
  const double W = 1132, H = 380, L = 64, R = 24, T = 44, B = 52;
  Svg s(W, H, "fig-sweep", "Speedup against acceptance rate for each pair");
  const Linear x{xticks.front(), xticks.back(), L, W - R};
  const Linear y{0, yticks.back(), H - B, T};
  y_grid(s, y, yticks, L, W - R, "×");
  x_grid(s, x, xticks, T, H - B, "%", 100);
  y_title(s, 18, (T + H - B) / 2, "speedup over ar (×)");
  s.text((L + W - R) / 2, H - 8, "acceptance rate (accepted / drafted tokens)", "axis-title", "middle");
  s.line(L, y(1), W - R, y(1), kInk, 1.2, "stroke-dasharray=\"5 4\"");
  s.text(W - R - 2, y(1) - 5, "ar = 1×", "tick", "end");
  std::vector<LegendItem> items;
  for (const auto& v : spec)
    if (series.count(v)) items.push_back({v, variant_color(doc, v), LegendItem::Shape::Dot});
  legend(s, L, 20, items);

  // Lines, then points, then a label per point (the pair), above it or else below it, skipped where it would overlap.
  for (auto& [v, pts] : series) {
    std::sort(pts.begin(), pts.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
    std::string d;
    for (const auto& p : pts) d += (d.empty() ? "M" : " L") + num(x(p.x), 1) + " " + num(y(p.y), 1);
    if (pts.size() > 1) s.path(d, "none", variant_color(doc, v), "stroke-width=\"2\" stroke-opacity=\"0.7\"");
  }
  struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  };
  std::vector<Box> placed;
  for (auto& [v, pts] : series)
    for (const auto& p : pts) {
      s.circle(x(p.x), y(p.y), 6, variant_color(doc, v), "stroke=\"#fff\" stroke-width=\"1.5\"",
               v + " on " + pairs[size_t(p.pair)].at("label").get<std::string>() + ": " + num(p.y, 2) + "× at " +
                   pct(p.x, 1) + " acceptance");
      placed.push_back({x(p.x) - 7, y(p.y) - 7, x(p.x) + 7, y(p.y) + 7});
    }
  for (auto& [v, pts] : series)
    for (const auto& p : pts) {
      const std::string label = pairs[size_t(p.pair)].at("label");
      const double w = svg::text_width(label, 11.5) / 2 + 2;
      for (double dy : {-12.0, 21.0}) {
        const Box b{x(p.x) - w, y(p.y) + dy - 11, x(p.x) + w, y(p.y) + dy + 2};
        if (std::any_of(placed.begin(), placed.end(), [&](const Box& o) { return o.overlaps(b); })) continue;
        s.text(x(p.x), y(p.y) + dy, label, "point-label", "middle");
        placed.push_back(b);
        break;
      }
    }
  f.svg = s.finish();
  f.caption = "One point per target/draft pair and strategy, every dataset pooled (the main pair and each "
              "<code>--pair</code>; e.g. <code>amusd synth</code> pairs with different <code>--late-scale</code>). "
              "The higher the acceptance rate, the more each verification yields.";
  if (pairs.size() < 2) f.caption += " Only one pair was measured: add <code>--pair TARGET,DRAFT</code> for a sweep.";
  return f;
}

// ---------------------------------------------------------------------------------------------------------
// Roofline and verification cost (when measured)

Figure roofline_figure(const json& doc) {
  Figure f;
  const json& rf = doc.at("roofline");
  f.title = "Decode roofline";
  const auto& rows = rf.at("rows");
  if (rows.empty()) return f;
  double vmax = 0;
  for (const auto& r : rows)
    vmax = std::max({vmax, r.at("bound_tokens_per_second").get<double>(), r.at("measured_tokens_per_second").get<double>()});
  const double W = 535, L = 92, R = 24, T = 36, row_h = 64, B = 40;
  const double H = T + row_h * double(rows.size()) + B;
  Svg s(W, H, "fig-roofline", "Measured decode speed against the memory-bandwidth bound");
  const auto ticks = svg::nice_ticks(0, vmax * 1.05, 5);
  const Linear x{0, ticks.back(), L, W - R};
  x_grid(s, x, ticks, T, H - B);
  s.text((L + W - R) / 2, H - 6, "tokens per second", "axis-title", "middle");
  legend(s, L, 18, {{"bound: bandwidth / weight bytes per token", "#d7dde6"}, {"measured ar decoding", kVerify}});
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& r = rows[i];
    const double ry = T + row_h * double(i) + 10;
    const double bound = r.at("bound_tokens_per_second"), meas = r.at("measured_tokens_per_second");
    const int th = r.at("threads");
    s.text(L - 10, ry + 18, std::to_string(th) + (th == 1 ? " thread" : " threads"), "lane", "end");
    s.text(L - 10, ry + 33, num(r.at("bandwidth_gb_per_s").get<double>(), 1) + " GB/s", "lane muted", "end");
    s.rect(L, ry, x(bound) - L, 40, "#d7dde6", "rx=\"3\"", "bound: " + num(bound, 2) + " tokens/s");
    s.rect(L, ry + 10, x(meas) - L, 20, kVerify, "rx=\"2\"", "measured: " + num(meas, 2) + " tokens/s");
    s.text(std::min(x(meas) + 6, W - R - 150), ry + 25,
           num(meas, 1) + " t/s = " + pct(r.at("fraction_of_bound").get<double>()) + " of " + num(bound, 1),
           "value");
  }
  f.svg = s.finish();
  const uint64_t bytes = rf.at("rows")[0].at("bytes_per_token");
  f.caption = "Decoding one token reads every weight of <b>" + esc(rf.at("model").get<std::string>()) + "</b> once (" +
              num(double(bytes) / (1024.0 * 1024.0), 1) +
              " MiB), so memory read bandwidth / bytes per token bounds plain decoding. Bandwidth: the best of "
              "several interleaved read streams per thread over a buffer far larger than the caches.";
  return f;
}

Figure verify_cost_figure(const json& doc) {
  Figure f;
  const json& vc = doc.at("verify_cost");
  f.title = "Cost of verifying K tokens in one pass";
  const auto& pts = vc.at("points");
  if (pts.empty()) return f;
  double vmax = 2;
  for (const auto& p : pts) vmax = std::max(vmax, p.at("ratio").get<double>() * 1.2);
  const double W = 535, H = 330, L = 58, R = 16, T = 44, B = 48;
  Svg s(W, H, "fig-verify-cost", "Cost of a K-token pass relative to one decode step");
  const auto ticks = svg::nice_ticks(0, vmax, 5);
  const Linear y{0, ticks.back(), H - B, T};
  const double step = (W - R - L) / double(pts.size());
  auto px = [&](size_t i) { return L + step * (double(i) + 0.5); };
  y_grid(s, y, ticks, L, W - R, "×");
  y_title(s, 16, (T + H - B) / 2, "time / one decode step");
  s.text((L + W - R) / 2, H - 8, "tokens verified in one pass (K)", "axis-title", "middle");
  legend(s, L, 20,
         {{"measured", kVerify, LegendItem::Shape::Dot}, {"K× (no gain from batching)", kMuted, LegendItem::Shape::Dashed}});
  s.raw("<defs><clipPath id=\"vc-clip\"><rect x=\"" + num(L, 0) + "\" y=\"" + num(T, 0) + "\" width=\"" +
        num(W - R - L, 0) + "\" height=\"" + num(H - B - T, 0) + "\"/></clipPath></defs>");
  std::string naive, meas;
  for (size_t i = 0; i < pts.size(); ++i) {
    const double k = double(pts[i].at("n_tokens").get<int64_t>());
    naive += (i ? " L" : "M") + num(px(i), 1) + " " + num(y(k), 1);
    meas += (i ? " L" : "M") + num(px(i), 1) + " " + num(y(pts[i].at("ratio").get<double>()), 1);
  }
  s.path(naive, "none", kMuted, "stroke-width=\"1.5\" stroke-dasharray=\"5 4\" clip-path=\"url(#vc-clip)\"");
  s.path(meas, "none", kVerify, "stroke-width=\"2.2\"");
  for (size_t i = 0; i < pts.size(); ++i) {
    const double r = pts[i].at("ratio");
    s.circle(px(i), y(r), 5.5, kVerify, "stroke=\"#fff\" stroke-width=\"1.5\"",
             "K = " + std::to_string(pts[i].at("n_tokens").get<int64_t>()) + ": " +
                 num(pts[i].at("ms").get<double>(), 2) + " ms per pass");
    s.text(px(i), y(r) - 11, num(r, 2) + "×", "value", "middle");
    s.text(px(i), H - B + 18, std::to_string(pts[i].at("n_tokens").get<int64_t>()), "category", "middle");
  }
  s.line(L, y(0), W - R, y(0), kAxis, 1);
  f.svg = s.finish();
  f.caption = "Time of one target pass over K tokens (logits of every token, as a verification needs) divided by one "
              "decode step, median of interleaved repetitions after a " +
              std::to_string(vc.at("prompt_tokens").get<int64_t>()) + "-token prompt on " +
              esc(vc.at("device").get<std::string>()) + ". Decode: <b>" +
              num(vc.at("decode_tokens_per_second").get<double>(), 1) + " tokens/s</b>; prefill: <b>" +
              num(vc.at("prefill_tokens_per_second").get<double>(), 1) + " tokens/s</b>.";
  return f;
}

}  // namespace amusd::bench::report_detail
