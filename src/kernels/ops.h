// Element-wise and attention ops of the forward pass. Pure functions over pointers and sizes. Numerics follow the
// reference engine where it matters for matching its logits (sums of squares and softmax sums in double).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace amusd::kernels {

// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], i < n. y may alias x.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// Rotates the first n_rot dimensions of each of n_heads heads (head h at x + h * head_dim) by the angles whose
// cosines / sines are given for each of the n_rot / 2 pairs. neox: pairs (i, i + n_rot/2); otherwise (2i, 2i+1).
void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* cos, const float* sin, bool neox);

// cos/sin of the n_rot / 2 RoPE angles at position pos: theta_i = pos * freq_scale * base^(-2i/n_rot) / factor_i.
// freq_factors may be null (all ones).
void rope_angles(int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors, float* cos,
                 float* sin);

// The reference engine evaluates exp() of whole vectors of kExpChunk floats with a polynomial (max error ~1.5 ulp,
// exp_poly) and the leftover elements with libm's expf; softmax sums each chunk with a fixed tree (sum16) and adds
// the chunk sums in double. Its softmax rows are padded with masked (zero) entries to a multiple of the chunk, so
// every element of a row goes through exp_poly. We follow both so that probabilities rounded to F16 (the attention
// numerics) round the same way as the reference's.
constexpr int64_t kExpChunk = 16;
float exp_poly(float x);
// Sum of 16 floats in the reference's reduction order.
float sum16(const float* v);

// In place: x[i] = exp(x[i] - max) / sum, i < n.
void softmax(float* x, int64_t n);

// out[i] = silu(gate[i]) * up[i] for the flat indices begin <= i < end of rows of row_len elements (the position
// within the row decides between exp_poly and expf, as in the reference). out may alias gate.
void silu_mul(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len);

// out[i] += x[i].
void add(float* out, const float* x, int64_t n);

// Stores n floats as `type` (F32 or F16) / loads them back.
void store_row(const float* x, void* dst, DType type, int64_t n);

}  // namespace amusd::kernels
