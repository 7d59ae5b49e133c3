// Placeholder: filled in by the legacy kernel family.
#include "kernels/kernels.h"

namespace amusd::kernels {

void register_legacy_kernels(KernelTable&, Isa) {}

}  // namespace amusd::kernels
