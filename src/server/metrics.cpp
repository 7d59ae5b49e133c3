#include "server/metrics.h"

#include <algorithm>
#include <cstdio>

namespace amusd::server {

namespace {

std::string number(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// name{labels} value
void sample(std::string& out, std::string_view name, const std::string& labels, const std::string& value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(value).append("\n");
}

}  // namespace

// ---- Histogram ----------------------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::write(std::string& out, std::string_view name, std::string_view help) const {
  header(out, name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    sample(out, bucket, "le=\"" + number(bounds_[i]) + "\"", std::to_string(cumulative));
  }
  sample(out, bucket, "le=\"+Inf\"", std::to_string(count_));
  sample(out, std::string(name) + "_sum", "", number(sum_));
  sample(out, std::string(name) + "_count", "", std::to_string(count_));
}

// ---- Metrics --------------------------------------------------------------------------------------------------

Metrics::Metrics()
    : ttft_({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      time_per_token_({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
      queue_wait_({0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60}) {}

void Metrics::count_request(std::string_view endpoint, int status) {
  std::lock_guard lk(mu_);
  ++requests_[{std::string(endpoint), status}];
}

void Metrics::record_generation(const GenerationRecord& g) {
  std::lock_guard lk(mu_);
  ++generations_[{g.strategy, g.outcome}];
  prompt_tokens_ += g.prompt_tokens;
  generated_tokens_ += g.generated_tokens;
  drafted_[g.strategy] += g.drafted;
  accepted_[g.strategy] += g.accepted;
  if (g.outcome != "failed") queue_wait_.observe(g.queue_wait_s);
  if (g.ttft_s >= 0) ttft_.observe(g.ttft_s);
  if (g.time_per_token_s >= 0) time_per_token_.observe(g.time_per_token_s);
}

std::string Metrics::render(size_t queued, size_t running) const {
  std::lock_guard lk(mu_);
  std::string out;
  header(out, "amusd_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
  for (const auto& [key, n] : requests_)
    sample(out, "amusd_requests_total", "endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"",
           std::to_string(n));
  header(out, "amusd_generations_total", "counter",
         "Generations run, by strategy and outcome (finished, cancelled, failed).");
  for (const auto& [key, n] : generations_)
    sample(out, "amusd_generations_total", "strategy=\"" + key.first + "\",outcome=\"" + key.second + "\"",
           std::to_string(n));
  header(out, "amusd_prompt_tokens_total", "counter", "Prompt tokens processed (tokens in).");
  sample(out, "amusd_prompt_tokens_total", "", std::to_string(prompt_tokens_));
  header(out, "amusd_generated_tokens_total", "counter", "Tokens generated (tokens out).");
  sample(out, "amusd_generated_tokens_total", "", std::to_string(generated_tokens_));
  header(out, "amusd_draft_tokens_total", "counter", "Draft tokens proposed to the verifier, by strategy.");
  for (const auto& [s, n] : drafted_)
    sample(out, "amusd_draft_tokens_total", "strategy=\"" + s + "\"", std::to_string(n));
  header(out, "amusd_accepted_tokens_total", "counter", "Draft tokens the verifier accepted, by strategy.");
  for (const auto& [s, n] : accepted_)
    sample(out, "amusd_accepted_tokens_total", "strategy=\"" + s + "\"", std::to_string(n));
  ttft_.write(out, "amusd_time_to_first_token_seconds", "From a request's arrival to its first generated token.");
  time_per_token_.write(out, "amusd_time_per_output_token_seconds",
                        "Mean time between generated tokens after the first, one sample per generation.");
  queue_wait_.write(out, "amusd_queue_wait_seconds", "From a request's arrival to the start of its generation.");
  header(out, "amusd_queue_length", "gauge", "Requests waiting for the generation worker.");
  sample(out, "amusd_queue_length", "", std::to_string(queued));
  header(out, "amusd_generations_running", "gauge", "Generations running now.");
  sample(out, "amusd_generations_running", "", std::to_string(running));
  return out;
}

}  // namespace amusd::server
