// `ar`: plain autoregressive decoding of the target, one forward pass per token.
#pragma once

#include "decode/strategy.h"
#include "model/context.h"

namespace amusd::decode {

class Autoregressive final : public Strategy {
 public:
  Autoregressive(const model::Model& target, backend::CpuDevice& device, model::ContextOptions options = {});
  std::string_view name() const override { return "ar"; }
  Outcome generate(const Request& request, TokenSink& sink, Stats& stats, std::stop_token stop) override;

 private:
  model::Context ctx_;
};

}  // namespace amusd::decode
