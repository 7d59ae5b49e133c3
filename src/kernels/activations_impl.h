// The vectorised softmax and SwiGLU, written once over a SIMD policy S (activations_avx2.cpp and
// activations_avx512.cpp instantiate it with their ISA's flags). S provides: vector type V, width W (8 or 16),
// load(p, n) / store(p, v, n) with n <= W valid lanes (loaded tail lanes are zero), set1(x), max(a, b),
// hmax(v), exp_poly(v) (bit-identical lane by lane to the scalar exp_poly), sub, mul, div, add, and
// sum16(v0, v1) (the 16 floats of v0 followed by v1, or of v0 alone when W == 16, summed in sum16's order).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ops.h"

namespace amusd::kernels::activation_detail {

template <class S>
void softmax_simd(float* x, int64_t n) {
  using V = typename S::V;
  constexpr int64_t W = S::W;
  V vmax = S::set1(-INFINITY);
  for (int64_t i = 0; i < n; i += W) vmax = S::max(vmax, S::load_or(x + i, int(std::min(W, n - i)), -INFINITY));
  const V max = S::set1(S::hmax(vmax));
  // Chunks of kExpChunk (= 16) values: exp of each lane, the chunk summed by the fixed tree, chunk sums in double.
  double sum = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kExpChunk) {
    V e[16 / W];
    for (int64_t c = 0; c < 16 / W; ++c) {
      const int64_t i = i0 + c * W;
      const int m = int(std::clamp<int64_t>(n - i, 0, W));
      e[c] = S::exp_poly(S::sub(S::load_or(x + i, m, -INFINITY), max));
      S::store(x + i, e[c], m);
    }
    if constexpr (W == 16) sum += double(S::sum16(e[0], e[0]));
    else sum += double(S::sum16(e[0], e[1]));
  }
  const V inv = S::set1(float(1.0 / sum));
  for (int64_t i = 0; i < n; i += W) {
    const int m = int(std::min(W, n - i));
    S::store(x + i, S::mul(S::load_or(x + i, m, 0.0f), inv), m);
  }
}

template <class S>
void silu_mul_simd(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len) {
  constexpr int64_t W = S::W;
  const int64_t vector_part = row_len / kExpChunk * kExpChunk;
  const auto one = S::set1(1.0f);
  for (int64_t row = begin / row_len; row * row_len < end; ++row) {
    const int64_t r0 = row * row_len;
    const int64_t c0 = std::max(begin - r0, int64_t(0)), c1 = std::min(end - r0, row_len);
    const int64_t v1 = std::min(c1, vector_part);
    for (int64_t c = c0; c < v1; c += W) {  // lanes are independent: any alignment gives the same bits
      const int m = int(std::min(W, v1 - c));
      const auto g = S::load_or(gate + r0 + c, m, 0.0f);
      const auto e = S::exp_poly(S::sub(S::set1(0.0f), g));
      S::store(out + r0 + c, S::mul(S::div(g, S::add(one, e)), S::load_or(up + r0 + c, m, 0.0f)), m);
    }
    for (int64_t c = std::max(c0, v1); c < c1; ++c) {
      const float g = gate[r0 + c];
      out[r0 + c] = g / (1.0f + std::exp(-g)) * up[r0 + c];
    }
  }
}

}  // namespace amusd::kernels::activation_detail
