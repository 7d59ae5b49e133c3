#include "kernels/activations.h"

#include "kernels/ops.h"

namespace amusd::kernels {

const ActivationKernels& activation_kernels(Isa isa) {
  static constexpr ActivationKernels kScalar{softmax, silu_mul};
  static constexpr ActivationKernels kAvx2{activation_detail::softmax_avx2, activation_detail::silu_mul_avx2};
  static constexpr ActivationKernels kAvx512{activation_detail::softmax_avx512, activation_detail::silu_mul_avx512};
  switch (isa) {
    case Isa::Avx512: return kAvx512;
    case Isa::Avx2: return kAvx2;
    case Isa::Scalar: break;
  }
  return kScalar;
}

}  // namespace amusd::kernels
