// The engine: loaded models, devices, and the strategies built on them. The CLI, the benchmark and the server all
// generate through Engine::strategy() + Session, so they share one generation path.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "backend/device.h"
#include "decode/speculative.h"
#include "decode/strategy.h"
#include "model/context.h"
#include "model/model.h"

namespace amusd::engine {

struct EngineOptions {
  std::string target_path;
  std::string draft_path;           // empty: no draft (only `ar`)
  std::string cpus;                 // ar / sd device (default: all CPUs)
  std::string cpus_verify;          // amusd verifier (default: all CPUs but the first)
  std::string cpus_draft;           // amusd draft (default: the first CPU)
  int threads = 0;                  // 0 = one per CPU of the device
  int threads_verify = 0;
  int threads_draft = 0;
  model::ContextOptions ctx;
  model::LoadOptions load;          // both models
  decode::SpecOptions spec;
};

// Names of the strategies: "ar", "sd", "amusd".
bool is_strategy_name(std::string_view name);

class Engine {
 public:
  // Loads the models and checks the draft matches the target. Throws Error.
  explicit Engine(EngineOptions options);
  ~Engine();

  const model::Model& target() const { return *target_; }
  const model::Model* draft() const { return draft_.get(); }
  const EngineOptions& options() const { return options_; }

  // The strategy with that name, created on first use (with its devices) and reused afterwards. Throws Error for an
  // unknown name, a speculative strategy without a draft model, or an impossible device split.
  decode::Strategy& strategy(std::string_view name);
  // Devices the strategy runs on, described ("verify: cpu 1, 1 thread, avx512").
  std::string describe(std::string_view name);

 private:
  backend::CpuDevice& device(const std::string& role);

  EngineOptions options_;
  std::unique_ptr<model::Model> target_, draft_;
  std::map<std::string, std::unique_ptr<backend::CpuDevice>, std::less<>> devices_;
  std::map<std::string, std::unique_ptr<decode::Strategy>, std::less<>> strategies_;
};

}  // namespace amusd::engine
