// Per-type matrix kernels, chosen once per ISA. Pure functions over pointers and shapes; no threads, no state.
//
// A weight matrix W has n_rows rows of n elements, each row stored in W's type (row_bytes(type, n) bytes).
// Activations X (n_tok rows of n floats) are first converted to the type's companion "vec_dot type" (as the
// reference engine does: Q8_0 / Q8_1 / Q8_K blocks for quantized weights, F16 for F16, BF16 for BF16, F32 for F32),
// then   y[t * y_stride + r] = dot(W row r, X row t)   for r < n_rows, t < n_tok.
// gemm reads each weight row once for all n_tok tokens: this is what makes batched verification cheap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace amusd::kernels {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

std::string_view isa_name(Isa isa);
Isa detect_isa();                      // best ISA this CPU supports (cpuid, once)
std::vector<Isa> supported_isas();     // every ISA usable here, Scalar first (tests compare them all)

// Converts n floats into row_bytes(type, n) bytes of `type`. Requires n % block_size(type) == 0.
using FromFloatFn = void (*)(const float* x, void* y, int64_t n);
// Converts row_bytes(type, n) bytes of `type` into n floats.
using ToFloatFn = void (*)(const void* x, float* y, int64_t n);
// Dot product of one weight row (W's type) with one activation row (the vec_dot type), n elements.
using VecDotFn = float (*)(int64_t n, const void* w, const void* x);
// y[t * y_stride + r] = dot(w + r * w_row_bytes, x + t * x_row_bytes) for r < n_rows, t < n_tok.
using GemmFn = void (*)(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                        size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);

struct TypeKernels {
  DType type = DType::F32;
  DType vec_dot_type = DType::F32;   // activations are converted to this before gemm / vec_dot
  ToFloatFn to_float = nullptr;      // dequantize (fast where available)
  FromFloatFn from_float = nullptr;  // quantize a row of this type (null when amusd cannot produce this type)
  VecDotFn vec_dot = nullptr;
  GemmFn gemm = nullptr;
};

// Kernels for a weight type at an ISA. Every entry is filled for the types amusd can run (F32, F16, BF16, Q4_0,
// Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K); ISAs without a specialised kernel fall back to the next lower ISA.
// Activation-only types (Q8_1, Q8_K) have from_float (and to_float) but no vec_dot / gemm.
// Returns nullptr for a type with no kernels (the caller reports the tensor name in its error).
const TypeKernels* find_kernels(DType t, Isa isa);
const TypeKernels& kernels(DType t, Isa isa);  // asserts the type is supported

// Scalar reference implementations: the ground truth fast kernels are tested against.
const TypeKernels* find_reference_kernels(DType t);

// Generic gemm built from a vec_dot: what every type gets before it has a hand-tuned gemm.
void gemm_by_vec_dot(VecDotFn dot, int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                     size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);

// ---- registration (one function per kernel family and ISA; defined next to the kernels) ----
// Each fills the entries of its types in `table`, indexed by DType value. Scalar must fill every field the family
// supports; higher ISAs overwrite only what they specialise. These functions are compiled WITHOUT ISA flags: they only
// take addresses of functions defined in the ISA-specific files.
using KernelTable = std::vector<TypeKernels>;   // indexed by uint32_t(DType), size kTableSize
constexpr size_t kTableSize = 64;
void register_float_kernels(KernelTable& table, Isa isa);   // F32, F16, BF16
void register_legacy_kernels(KernelTable& table, Isa isa);  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (+ Q8_1 activations)
void register_kquant_kernels(KernelTable& table, Isa isa);  // Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (+ Q8_K activations)

}  // namespace amusd::kernels
