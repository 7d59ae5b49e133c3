// Softmax and SwiGLU with the reference engine's exp (ops.h: exp_poly, kExpChunk), per ISA. The vector versions give
// bit-identical results to the scalar ones in ops.cpp: the same IEEE operations in the same order, only several
// lanes at a time (tests/test_activations.cpp checks this for every ISA).
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace amusd::kernels {

struct ActivationKernels {
  // In place: x[i] = exp(x[i] - max) / sum, i < n (ops.h: softmax).
  void (*softmax)(float* x, int64_t n);
  // out[i] = silu(gate[i]) * up[i] for flat indices begin <= i < end of rows of row_len (ops.h: silu_mul).
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len);
};

const ActivationKernels& activation_kernels(Isa isa);

namespace activation_detail {
void softmax_avx2(float* x, int64_t n);
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len);
void softmax_avx512(float* x, int64_t n);
void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len);
}  // namespace activation_detail

}  // namespace amusd::kernels
