// Placeholder: filled in by the float kernel family.
#include "kernels/kernels.h"

namespace amusd::kernels {

void register_float_kernels(KernelTable&, Isa) {}

}  // namespace amusd::kernels
