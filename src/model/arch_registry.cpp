#include <array>

#include "model/arch.h"

namespace amusd::model {

extern const ArchSpec kLlamaArch;
extern const ArchSpec kQwen2Arch;

namespace {
// One line per architecture.
const std::array<const ArchSpec*, 2> kArchs = {&kLlamaArch, &kQwen2Arch};
}  // namespace

const ArchSpec* find_arch(std::string_view name) {
  for (const ArchSpec* a : kArchs)
    if (a->name == name) return a;
  return nullptr;
}

std::string supported_arch_names() {
  std::string s;
  for (const ArchSpec* a : kArchs) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

}  // namespace amusd::model
