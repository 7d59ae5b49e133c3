#include "engine/engine.h"

#include "backend/thread_group.h"
#include "core/error.h"
#include "decode/amusd.h"
#include "decode/autoregressive.h"

namespace amusd::engine {

bool is_strategy_name(std::string_view name) { return name == "ar" || name == "sd" || name == "amusd"; }

Engine::Engine(EngineOptions options) : options_(std::move(options)) {
  AMUSD_CHECK(!options_.target_path.empty(), "no target model given");
  target_ = model::Model::load(options_.target_path, options_.load);
  if (!options_.draft_path.empty()) {
    draft_ = model::Model::load(options_.draft_path, options_.load);
    decode::check_compatible(*target_, *draft_);
  }
}

Engine::~Engine() = default;

backend::CpuDevice& Engine::device(const std::string& role) {
  if (auto it = devices_.find(role); it != devices_.end()) return *it->second;
  const std::vector<int> all = backend::available_cpus();
  std::string spec;
  int threads = 0;
  if (role == "target") {
    spec = options_.cpus;
    threads = options_.threads;
  } else if (role == "verify") {
    spec = options_.cpus_verify;
    threads = options_.threads_verify;
    if (spec.empty()) {
      AMUSD_CHECK(all.size() >= 2, "amusd needs at least 2 CPUs (one for the draft, one for the verifier); ",
                  "this process may use ", all.size());
      spec = backend::format_cpu_list(std::vector<int>(all.begin() + 1, all.end()));
    }
  } else {
    spec = options_.cpus_draft;
    threads = options_.threads_draft;
    if (spec.empty()) spec = std::to_string(all.front());
  }
  auto dev = backend::make_cpu_device(role, spec, threads);
  return *devices_.emplace(role, std::move(dev)).first->second;
}

decode::Strategy& Engine::strategy(std::string_view name) {
  if (auto it = strategies_.find(name); it != strategies_.end()) return *it->second;
  AMUSD_CHECK(is_strategy_name(name), "unknown strategy '", name, "' (choose ar, sd or amusd)");
  std::unique_ptr<decode::Strategy> s;
  if (name == "ar") {
    s = std::make_unique<decode::Autoregressive>(*target_, device("target"), options_.ctx);
  } else {
    AMUSD_CHECK(draft_, "strategy '", name, "' needs a draft model (-md DRAFT.gguf)");
    if (name == "sd")
      s = std::make_unique<decode::SpeculativeSync>(*target_, *draft_, device("target"), options_.ctx, options_.spec);
    else
      s = std::make_unique<decode::Amusd>(*target_, device("verify"), *draft_, device("draft"), options_.ctx,
                                          options_.spec);
  }
  return *strategies_.emplace(std::string(name), std::move(s)).first->second;
}

std::string Engine::describe(std::string_view name) {
  strategy(name);
  if (name == "amusd") return device("verify").describe() + "; " + device("draft").describe();
  return device("target").describe();
}

}  // namespace amusd::engine
