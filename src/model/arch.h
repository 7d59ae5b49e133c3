// Architectures. Each one is a file (llama.cpp, qwen2.cpp, ...) defining an ArchSpec, plus one line in
// arch_registry.cpp. The forward pass is shared; a spec says how its blocks are configured.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "model/hparams.h"

namespace amusd::model {

struct ArchSpec {
  std::string_view name;               // general.architecture
  RopeStyle rope_style;
  bool qkv_bias;                       // blk.N.attn_{q,k,v}.bias are required
};

// The spec for general.architecture = name, or nullptr.
const ArchSpec* find_arch(std::string_view name);
// Names of all supported architectures (for error messages).
std::string supported_arch_names();

}  // namespace amusd::model
