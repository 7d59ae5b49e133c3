#include "bench/results.h"

#include <nlohmann/json.hpp>

#include "core/dtype.h"

namespace amusd::bench {

using nlohmann::json;

json to_json(const BenchConfig& c) {
  json splits = json::array();
  for (const auto& s : c.splits) splits.push_back(s.label());
  const auto& e = c.engine;
  return {{"strategies", c.strategies},
          {"splits", splits},
          {"n_samples", c.n_samples},
          {"max_new_tokens", c.max_new_tokens},
          {"reps", c.reps},
          {"warmup", c.warmup},
          {"ignore_eos", c.ignore_eos},
          {"temperature", c.sampling.temperature},
          {"top_k", c.sampling.top_k},
          {"top_p", c.sampling.top_p},
          {"min_p", c.sampling.min_p},
          {"seed", c.sampling.seed},
          {"draft_max", e.spec.draft_max},
          {"draft_adaptive", e.spec.adaptive},
          {"draft_p_min", e.spec.draft_p_min},
          {"draft_ahead", e.spec.draft_ahead},
          {"cpus", e.cpus.empty() ? "all" : e.cpus},
          {"threads", e.threads},
          {"ctx_size", e.ctx.n_ctx},
          {"kv_type", std::string(dtype_name(e.ctx.kv_type))}};
}

json to_json(const SampleResult& s) {
  return {{"pair", s.pair},
          {"dataset", s.dataset},
          {"index", s.index},
          {"rep", s.rep},
          {"variant", s.variant},
          {"seed", s.seed},
          {"n_prompt", s.stats.n_prompt},
          {"n_generated", s.tokens.size()},
          {"tokens", s.tokens},
          {"token_ms", s.token_ms},
          {"text", s.text},
          {"stop_reason", s.stop_reason},
          {"stats", decode::stats_to_json(s.stats)}};
}

json to_json(const Row& row) {
  return {{"pair", row.pair},
          {"dataset", row.dataset},
          {"variant", row.variant},
          {"runs", row.runs},
          {"tokens", row.tokens},
          {"prompt_tokens", row.prompt_tokens},
          {"generate_ms", row.generate_ms},
          {"prefill_ms", row.prefill_ms},
          {"prefill_tokens_per_second", row.prefill_tokens_per_second()},
          {"ms_per_token", row.ms_per_token},
          {"ms_per_token_sd", row.ms_per_token_sd},
          {"tokens_per_second", row.tokens_per_second},
          {"speedup", row.speedup},
          {"drafted", row.drafted},
          {"accepted", row.accepted},
          {"verifications", row.verifications},
          {"rollbacks", row.rollbacks},
          {"acceptance_rate", row.acceptance_rate()},
          {"mean_accepted_length", row.mean_accepted_length()},
          {"rollbacks_per_run", row.rollbacks_per_run()},
          {"accepted_hist", row.accepted_hist},
          {"mismatches", row.mismatches}};
}

json to_json(const Mismatch& m) {
  return {{"pair", m.pair},         {"dataset", m.dataset},   {"index", m.index},
          {"rep", m.rep},           {"variant", m.variant},   {"reference", m.reference},
          {"position", m.position}, {"expected", m.expected}, {"got", m.got},
          {"expected_len", m.expected_len}, {"got_len", m.got_len}};
}

json results_to_json(const BenchConfig& c, const MachineInfo& machine, const RunResults& r,
                     const std::vector<Row>& table, const std::vector<Row>& sweep) {
  json j;
  j["version"] = 1;
  j["machine"] = to_json(machine);
  j["config"] = to_json(c);
  j["pairs"] = json::array();
  for (const PairInfo& p : r.pairs)
    j["pairs"].push_back({{"label", p.pair.label},
                          {"target", p.pair.target},
                          {"draft", p.pair.draft},
                          {"target_params", p.target_params},
                          {"draft_params", p.draft_params},
                          {"target_bytes_per_token", p.target_bytes_per_token},
                          {"draft_bytes_per_token", p.draft_bytes_per_token},
                          {"devices", p.devices}});
  j["datasets"] = json::array();
  for (size_t d = 0; d < c.datasets.size(); ++d)
    j["datasets"].push_back({{"name", c.datasets[d].name},
                             {"path", c.datasets[d].path},
                             {"n_prompts", c.datasets[d].prompts.size()},
                             {"n_used", samples_used(c, int(d))}});
  j["variants"] = json::array();
  for (const Variant& v : r.variants)
    j["variants"].push_back({{"label", v.label},
                             {"strategy", v.strategy},
                             {"split", v.strategy == "amusd" ? json(v.split.label()) : json(nullptr)}});
  j["reference"] = reference_variant(r.variants);
  j["samples"] = json::array();
  for (const SampleResult& s : r.samples) j["samples"].push_back(to_json(s));
  j["table"] = json::array();
  for (const Row& row : table) j["table"].push_back(to_json(row));
  j["sweep"] = json::array();
  for (const Row& row : sweep) j["sweep"].push_back(to_json(row));
  j["mismatches"] = json::array();
  for (const Mismatch& m : r.mismatches) j["mismatches"].push_back(to_json(m));
  return j;
}

}  // namespace amusd::bench
