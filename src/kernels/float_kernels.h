// Float kernels: F32, F16 and BF16 weights; activations are converted to the weight's own type first (F32 stays F32),
// as the reference engine does. Declarations shared by the scalar reference and registration (float_kernels.cpp,
// baseline x86-64) and the ISA-specific files (float_kernels_avx2.cpp, float_kernels_avx512.cpp), which explicitly
// instantiate the templates for F32, F16 and BF16; the registration takes their addresses.
//
// Conversions: F16 and BF16 round to nearest even (NaN stays NaN); to_float is exact.
// Dot products accumulate exact products (f16 x f16 and bf16 x bf16 fit in a float) in single precision in the
// fast kernels and in double precision in the scalar reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace amusd::kernels::floats {

// Signatures match kernels.h (ToFloatFn, FromFloatFn, VecDotFn, GemmFn); T is F32, F16 or BF16.
namespace avx2 {
template <DType T> void to_float(const void* x, float* y, int64_t n);
template <DType T> void from_float(const float* x, void* y, int64_t n);
template <DType T> float vec_dot(int64_t n, const void* w, const void* x);
template <DType T>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx2

namespace avx512 {
template <DType T> void to_float(const void* x, float* y, int64_t n);
template <DType T> void from_float(const float* x, void* y, int64_t n);
template <DType T> float vec_dot(int64_t n, const void* w, const void* x);
template <DType T>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx512

}  // namespace amusd::kernels::floats
