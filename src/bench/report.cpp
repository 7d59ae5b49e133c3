#include "bench/report.h"

#include <nlohmann/json.hpp>

#include "bench/report_figures.h"
#include "bench/svg.h"
#include "core/error.h"

namespace amusd::bench {

using nlohmann::json;
using report_detail::Figure;
using svg::esc;
using svg::num;

namespace {

// ---------------------------------------------------------------------------------------------------------
// Style

constexpr const char* kCss = R"CSS(
:root { --ink: #1f2933; --muted: #6b7785; --line: #e3e7ed; --bg: #f3f5f8; --card: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 "Inter", "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
  -webkit-font-smoothing: antialiased; font-variant-numeric: tabular-nums; }
main { max-width: 1240px; margin: 0 auto; padding: 34px 32px 40px; }
header { margin-bottom: 8px; }
.eyebrow { text-transform: uppercase; letter-spacing: .09em; font-size: 12px; font-weight: 700; color: #3f6fb5; }
h1 { font-size: 30px; line-height: 1.2; letter-spacing: -0.015em; margin: 6px 0 8px; font-weight: 750; }
.sub { font-size: 15.5px; color: #364452; margin: 0; }
.meta { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 12px; }
.chip { background: #e6eaf0; border-radius: 999px; padding: 3px 11px; font-size: 12.5px; color: #334155; }
.chip b { font-weight: 650; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 14px; margin: 22px 0 20px; }
.kpi { background: var(--card); border-radius: 12px; padding: 14px 18px 14px; border-top: 4px solid var(--accent);
  box-shadow: 0 1px 2px rgba(16,24,40,.05), 0 2px 6px rgba(16,24,40,.06); }
.kpi .name { font-size: 13px; font-weight: 650; color: #364452; }
.kpi .big { font-size: 34px; font-weight: 750; letter-spacing: -0.02em; line-height: 1.15; color: var(--accent); }
.kpi .big small { font-size: 15px; font-weight: 600; color: var(--muted); letter-spacing: 0; }
.kpi .detail { font-size: 12.5px; color: var(--muted); }
.kpi.bad { background: #fff1f2; }
.card { background: var(--card); border-radius: 14px; padding: 18px 22px 14px; margin: 0 0 18px;
  box-shadow: 0 1px 2px rgba(16,24,40,.05), 0 2px 6px rgba(16,24,40,.06); }
.card h2 { font-size: 17px; margin: 0 0 3px; letter-spacing: -0.005em; }
.caption { color: var(--muted); font-size: 13px; margin: 0 0 10px; max-width: 1000px; }
.caption code, .chip code, footer code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 11.5px;
  background: #eef1f5; border-radius: 4px; padding: 0 4px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items: start; }
.grid2 .card { margin: 0 0 18px; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: "Inter", "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; fill: #1f2933; }
svg .tick { font-size: 11.5px; fill: #6b7785; }
svg .axis-title { font-size: 12.5px; fill: #4b5866; font-weight: 600; }
svg .legend { font-size: 12px; fill: #364452; }
svg .category { font-size: 12.5px; fill: #364452; font-weight: 600; }
svg .value { font-size: 11.5px; font-weight: 700; fill: #1f2933; }
svg .lane { font-size: 12px; fill: #364452; font-weight: 600; }
svg .muted { fill: #8a94a3; font-weight: 500; }
svg .panel-title { font-size: 13px; font-weight: 700; }
svg .panel-note { font-size: 12px; fill: #6b7785; }
svg .bar-label { font-size: 10.5px; fill: #fff; font-weight: 700; }
svg .point-label { font-size: 11.5px; fill: #4b5866; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: right; font-weight: 650; color: #4b5866; padding: 6px 10px; border-bottom: 2px solid var(--line);
  white-space: nowrap; }
td { text-align: right; padding: 5px 10px; border-bottom: 1px solid #eef1f4; white-space: nowrap; }
th.l, td.l { text-align: left; }
tr.group td { border-top: 1px solid var(--line); }
td .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 7px; }
td.speed { background-repeat: no-repeat; background-size: var(--w) 70%; background-position: right center; }
tr.bad td { background: #fff1f2; color: #b42318; font-weight: 650; }
h3 { font-size: 14px; margin: 14px 0 6px; color: #364452; }
footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
)CSS";

// ---------------------------------------------------------------------------------------------------------
// Header and key numbers

std::string params(uint64_t n) {
  if (n >= 1000000000ULL) return num(double(n) / 1e9, 2) + " B";
  if (n >= 1000000ULL) return num(double(n) / 1e6, 1) + " M";
  return num(double(n) / 1e3, 1) + " K";
}

std::string chip(const std::string& html) { return "<span class=\"chip\">" + html + "</span>"; }

std::string header(const json& doc) {
  const json& m = doc.at("machine");
  std::string h = "<header><div class=\"eyebrow\">amusd bench · " + esc(m.at("date").get<std::string>()) + "</div>";
  if (doc.contains("pairs") && !doc.at("pairs").empty()) {
    const json& p = doc.at("pairs")[0];
    h += "<h1>" + esc(p.at("label").get<std::string>());
    if (!p.at("draft").get<std::string>().empty()) h += " with a speculative draft";
    h += "</h1><p class=\"sub\">target <b>" + esc(p.at("target").get<std::string>()) + "</b> (" +
         params(p.at("target_params")) + " parameters, " +
         num(double(p.at("target_bytes_per_token").get<uint64_t>()) / (1024.0 * 1024.0), 0) + " MiB read per token)";
    if (!p.at("draft").get<std::string>().empty())
      h += " · draft <b>" + esc(p.at("draft").get<std::string>()) + "</b> (" + params(p.at("draft_params")) + ")";
    if (doc.at("pairs").size() > 1) h += " · " + std::to_string(doc.at("pairs").size() - 1) + " more pair(s) in the sweep";
    h += "</p>";
  } else {
    h += "<h1>Machine speed limits</h1>";
  }
  h += "<p class=\"meta\">" + esc(m.at("cpu_model").get<std::string>()) + " · " +
       std::to_string(m.at("n_cpus").get<int>()) + " CPUs available · kernels " + esc(m.at("isa").get<std::string>()) +
       " · " + esc(m.at("os").get<std::string>()) + "</p>";
  if (doc.contains("config")) {
    const json& c = doc.at("config");
    std::string ds;
    for (const auto& d : doc.at("datasets"))
      ds += (ds.empty() ? "" : ", ") + esc(d.at("name").get<std::string>()) + " (" +
            std::to_string(d.at("n_used").get<int64_t>()) + " of " + std::to_string(d.at("n_prompts").get<int64_t>()) +
            ")";
    const float temp = c.at("temperature");
    h += "<div class=\"chips\">" + chip("datasets <b>" + ds + "</b>") +
         chip("<b>" + std::to_string(c.at("max_new_tokens").get<int64_t>()) + "</b> new tokens" +
              (c.at("ignore_eos").get<bool>() ? " (EOS ignored)" : "")) +
         chip(temp <= 0 ? "<b>greedy</b> (temperature 0)" : "temperature <b>" + num(temp, 2) + "</b>, seed " +
                                                              std::to_string(c.at("seed").get<uint64_t>())) +
         chip("<b>" + std::to_string(c.at("reps").get<int>()) + "</b> rep(s), " +
              std::to_string(c.at("warmup").get<int>()) + " warm-up") +
         chip("draft-max <b>" + std::to_string(c.at("draft_max").get<int>()) + "</b>" +
              (c.at("draft_ahead").get<int>() > 0 ? ", draft-ahead " + std::to_string(c.at("draft_ahead").get<int>())
                                                  : ""));
    const json& devices = doc.at("pairs")[0].at("devices");
    for (const auto& v : doc.at("variants")) {
      const std::string label = v.at("label");
      if (devices.contains(label)) h += chip("<b>" + esc(label) + "</b> " + esc(devices.at(label).get<std::string>()));
    }
    h += "</div>";
  }
  return h + "</header>";
}

std::string kpi(const std::string& color, const std::string& name, const std::string& big, const std::string& detail,
                bool bad = false) {
  return "<div class=\"kpi" + std::string(bad ? " bad" : "") + "\" style=\"--accent:" + color + "\"><div class=\"name\">" +
         name + "</div><div class=\"big\">" + big + "</div><div class=\"detail\">" + detail + "</div></div>";
}

std::string key_numbers(const json& doc) {
  std::string out = "<section class=\"kpis\">";
  for (const auto& r : doc.at("sweep")) {
    if (r.at("pair").get<int>() != 0) continue;
    const std::string v = r.at("variant");
    const std::string color = report_detail::variant_color(doc, v);
    if (v == "ar") {
      out += kpi(color, "ar · plain decoding", num(r.at("tokens_per_second").get<double>(), 1) + " <small>tokens/s</small>",
                 num(r.at("ms_per_token").get<double>(), 2) + " ms per token · the baseline");
    } else {
      const double sp = r.at("speedup");
      out += kpi(color, esc(v), sp > 0 ? num(sp, 2) + "× <small>vs ar</small>" : num(r.at("tokens_per_second").get<double>(), 1) + " <small>tokens/s</small>",
                 num(r.at("tokens_per_second").get<double>(), 1) + " tokens/s · " +
                     num(100.0 * r.at("acceptance_rate").get<double>(), 0) + "% accepted · " +
                     num(r.at("mean_accepted_length").get<double>(), 2) + " tokens per pass");
    }
  }
  const size_t n_mis = doc.at("mismatches").size();
  const bool greedy = doc.at("config").at("temperature").get<float>() <= 0;
  const std::string ref = doc.at("reference");
  if (!greedy)
    out += kpi("#8a94a3", "output check", "sampled", "temperature &gt; 0: strategies draw different samples, not compared");
  else if (n_mis == 0)
    out += kpi("#2e9e6b", "output check", "identical", "every strategy emitted exactly the tokens of " + esc(ref));
  else
    out += kpi("#d62839", "output check", std::to_string(n_mis) + " <small>mismatch(es)</small>",
               "a strategy emitted other tokens than " + esc(ref) + " at temperature 0: a bug", true);
  return out + "</section>";
}

// ---------------------------------------------------------------------------------------------------------
// Figures and the results table

std::string card(const Figure& f) {
  return "<section class=\"card\"><h2>" + esc(f.title) + "</h2><p class=\"caption\">" + f.caption + "</p>" + f.svg +
         "</section>";
}

std::string cell(const std::string& s, const std::string& cls = "") {
  return "<td" + (cls.empty() ? "" : " class=\"" + cls + "\"") + ">" + s + "</td>";
}

std::string results_table(const json& doc) {
  std::string out = "<section class=\"card\"><h2>Results</h2><p class=\"caption\">Times pooled over every sample "
                    "and repetition: ms/token = generation time / generated tokens (± the standard deviation across "
                    "runs). Acceptance rate = accepted / drafted tokens; accepted length = tokens emitted per target "
                    "pass.</p>";
  double best = 1;
  for (const auto& r : doc.at("table")) best = std::max(best, r.at("speedup").get<double>());
  const auto& pairs = doc.at("pairs");
  const auto& datasets = doc.at("datasets");
  for (size_t p = 0; p < pairs.size(); ++p) {
    if (pairs.size() > 1) out += "<h3>" + esc(pairs[p].at("label").get<std::string>()) + "</h3>";
    out += "<table><tr><th class=\"l\">dataset</th><th class=\"l\">strategy</th><th>ms/token</th><th>tokens/s</th>"
           "<th>speedup</th><th>acceptance</th><th>accepted length</th><th>rollbacks/run</th><th>prefill tok/s</th>"
           "<th>runs</th><th>tokens</th></tr>";
    auto add_rows = [&](const json& rows, int dataset, const std::string& name) {
      bool first = true;
      for (const auto& r : rows) {
        if (r.at("pair").get<size_t>() != p || r.at("dataset").get<int>() != dataset) continue;
        const std::string v = r.at("variant");
        const bool spec = v != "ar";
        const double sp = r.at("speedup");
        const bool bad = r.at("mismatches").get<int64_t>() > 0;
        out += std::string("<tr class=\"") + (first ? "group" : "") + (bad ? " bad" : "") + "\">";
        out += cell(first ? "<b>" + esc(name) + "</b>" : "", "l");
        out += cell("<span class=\"swatch\" style=\"background:" + report_detail::variant_color(doc, v) + "\"></span>" +
                        esc(v) + (bad ? " — MISMATCH" : ""),
                    "l");
        const double sd = r.at("ms_per_token_sd");
        out += cell(num(r.at("ms_per_token").get<double>(), 2) + (sd > 0 ? " <span style=\"color:#8a94a3\">± " + num(sd, 2) + "</span>" : ""));
        out += cell(num(r.at("tokens_per_second").get<double>(), 1));
        out += sp > 0 ? "<td class=\"speed\" style=\"--w:" + num(100.0 * sp / best, 1) +
                            "%;background-image:linear-gradient(90deg," + report_detail::variant_color(doc, v) +
                            "33," + report_detail::variant_color(doc, v) + "55)\"><b>" + num(sp, 2) + "×</b></td>"
                      : cell("–");
        out += cell(spec ? num(100.0 * r.at("acceptance_rate").get<double>(), 1) + "%" : "–");
        out += cell(spec ? num(r.at("mean_accepted_length").get<double>(), 2) : "–");
        out += cell(spec ? num(r.at("rollbacks_per_run").get<double>(), 1) : "–");
        out += cell(num(r.at("prefill_tokens_per_second").get<double>(), 0));
        out += cell(std::to_string(r.at("runs").get<int64_t>()));
        out += cell(std::to_string(r.at("tokens").get<int64_t>()));
        out += "</tr>";
        first = false;
      }
    };
    for (size_t d = 0; d < datasets.size(); ++d) add_rows(doc.at("table"), int(d), datasets[d].at("name"));
    if (datasets.size() > 1) add_rows(doc.at("sweep"), -1, "all datasets");
    out += "</table>";
  }
  return out + "</section>";
}

std::string page(const json& doc) {
  std::string body = header(doc);
  const bool bench = doc.contains("variants") && !doc.at("variants").empty();
  if (bench) {
    body += key_numbers(doc);
    body += card(report_detail::timeline_figure(doc));
    body += "<div class=\"grid2\">" + card(report_detail::speedup_figure(doc)) +
            card(report_detail::histogram_figure(doc)) + "</div>";
    body += card(report_detail::sweep_figure(doc));
  }
  const bool rf = doc.contains("roofline"), vc = doc.contains("verify_cost");
  if (rf && vc)
    body += "<div class=\"grid2\">" + card(report_detail::roofline_figure(doc)) +
            card(report_detail::verify_cost_figure(doc)) + "</div>";
  else if (rf)
    body += card(report_detail::roofline_figure(doc));
  else if (vc)
    body += card(report_detail::verify_cost_figure(doc));
  if (bench) body += results_table(doc);
  body += "<footer>Generated by <code>amusd bench</code>";
  if (doc.contains("command")) body += ": <code>" + esc(doc.at("command").get<std::string>()) + "</code>";
  body += "</footer>";
  std::string title = "amusd bench";
  if (doc.contains("pairs") && !doc.at("pairs").empty()) title += " — " + doc.at("pairs")[0].at("label").get<std::string>();
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><meta name=\"viewport\" "
         "content=\"width=device-width, initial-scale=1\"/><title>" +
         esc(title) + "</title><style>" + kCss + "</style></head><body><main>" + body + "</main></body></html>\n";
}

}  // namespace

std::string render_report(const json& results) {
  try {
    return page(results);
  } catch (const json::exception& e) {
    fail("cannot render the report: the results JSON lacks a field or has a wrong type (", e.what(), ")");
  }
}

}  // namespace amusd::bench
