// Legacy quantized kernels: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights with Q8_0 / Q8_1 activations.
// Declarations shared by the scalar reference and registration (legacy_kernels.cpp, baseline x86-64) and the
// ISA-specific files (legacy_kernels_avx2.cpp, legacy_kernels_avx512.cpp). The templates are declared here and
// explicitly instantiated in the ISA files for the legacy types only; the registration takes their addresses.
//
// Block math (per 32-element block b, w = weight block, a = activation block):
//   Q4_0, Q5_0, Q8_0 (activations Q8_0):  dot_b = (sum_j wq_j * aq_j) * a.d * w.d     (wq signed, offset removed)
//   Q4_1, Q5_1       (activations Q8_1):  dot_b = (sum_j wq_j * aq_j) * a.d * w.d + w.m * a.s
// with the integer sum exact and the float part in single precision, like the reference engine.
//
// Activation quantizers (Q8_0, Q8_1) follow the reference engine's x86 run-time quantizer, which is what produced
// the recorded logits: per block amax = max |x|, d = amax / 127, id = 127 / amax (0 when amax == 0),
// q = round-half-to-even(x * id); Q8_1 also stores s = fp16(d * sum(q)) with d the unrounded float scale.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace amusd::kernels::legacy {

// Signatures match kernels.h (ToFloatFn, FromFloatFn, VecDotFn, GemmFn). W is a legacy weight type (to_float also
// takes Q8_1), A an activation type (Q8_0 or Q8_1); the ISA files instantiate exactly those.
// gemm keeps up to ~80 KiB of prepared activations and partial sums on the stack.
namespace avx2 {
template <DType W> void to_float(const void* x, float* y, int64_t n);
template <DType A> void quantize_act(const float* x, void* y, int64_t n);
template <DType W> float vec_dot(int64_t n, const void* w, const void* x);
template <DType W>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx2

namespace avx512 {
template <DType W> void to_float(const void* x, float* y, int64_t n);
template <DType A> void quantize_act(const float* x, void* y, int64_t n);
template <DType W> float vec_dot(int64_t n, const void* w, const void* x);
template <DType W>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx512

}  // namespace amusd::kernels::legacy
