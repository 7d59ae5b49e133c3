// The vectorised attention algorithm, written once over a SIMD policy S (see attention_avx2.cpp and
// attention_avx512.cpp, which instantiate it with their ISA's flags). S provides: vector type V, width W,
// zero(), set1(x), load(p, n) for float / f16 pointers with n <= W valid lanes (the rest zero), store(p, v, n),
// fma(a, b, c) = a * b + c, mul(a, b), reduce(v) (horizontal sum), a lane-wise double accumulator Wide with
// wide_zero(), add_wide(acc, v) (v's floats added in double), widen(v) (v's floats as doubles), fma_wide(a, b, acc)
// (lane-wise a * b + acc in double) and reduce_wide(acc) (its horizontal sum), round_f16(v)
// (to F16 and back, nearest even) and softmax(x, n) (the ISA's activation kernel).
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/fp16.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace amusd::kernels::attention_detail {

// Query heads h0 .. h0 + NH - 1 (NH <= 8 at compile time, so that the loops over heads unroll and their accumulators
// stay in registers).
template <class S, class T, int NH>
void attend_heads(const AttentionArgs& a, int64_t h0) {
  using V = typename S::V;
  constexpr int64_t W = S::W;
  constexpr bool f16 = !std::is_same_v<T, float>;
  constexpr int64_t nh = NH;
  const int64_t hd = a.head_dim;
  const int64_t n_chunks = (hd + W - 1) / W;

  // Queries, rounded like the cache (F16) and padded with zeros to whole vectors.
  alignas(64) float q[NH][kMaxHeadDim + 64];
  for (int64_t h = 0; h < nh; ++h)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int n = int(std::min(W, hd - c * W));
      V x = S::load(a.q + (h0 + h) * hd + c * W, n);
      if constexpr (f16) x = S::round_f16(x);
      S::store(q[h] + c * W, x, W);
    }

  // Scores: each cached key is loaded once for all heads of the group, and the sum is taken in double (lane-wise,
  // one horizontal sum per key and head), so the score hardly depends on summation order. With an F16 cache every
  // product of two F16 values is exact in f32 and in double: a double fma gives the very bits of adding the f32
  // product in double, with q widened once per head and each key once per group.
  using Wide = typename S::Wide;
  Wide qw[f16 ? NH : 1][f16 ? kMaxHeadDim / W : 1];  // F16 cache: q widened once per head
  if constexpr (f16)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t c = 0; c < n_chunks; ++c) qw[h][c] = S::widen(S::load(q[h] + c * W, int(W)));
  for (int64_t j = 0; j < a.n_kv; ++j) {
    const T* kj = reinterpret_cast<const T*>(a.k + j * a.stride);
    Wide dot[NH];
#pragma GCC unroll 8
    for (int64_t h = 0; h < nh; ++h) dot[h] = S::wide_zero();
    for (int64_t c = 0; c < n_chunks; ++c) {
      const V kv = S::load(kj + c * W, int(std::min(W, hd - c * W)));
      if constexpr (f16) {
        const Wide kw = S::widen(kv);
#pragma GCC unroll 8
        for (int64_t h = 0; h < nh; ++h) dot[h] = S::fma_wide(qw[h][c], kw, dot[h]);
      } else {
#pragma GCC unroll 8
        for (int64_t h = 0; h < nh; ++h) dot[h] = S::add_wide(dot[h], S::mul(S::load(q[h] + c * W, int(W)), kv));
      }
    }
#pragma GCC unroll 8
    for (int64_t h = 0; h < nh; ++h) a.scores[(h0 + h) * a.n_kv + j] = float(S::reduce_wide(dot[h])) * a.scale;
  }
  for (int64_t h = 0; h < nh; ++h) {
    float* s = a.scores + (h0 + h) * a.n_kv;
    S::softmax(s, a.n_kv);
    if constexpr (f16)  // the F16 rounding in hardware: the same bits as f32_to_f16 for every non-NaN value
      for (int64_t j = 0; j < a.n_kv; j += W) {
        const int n = int(std::min(W, a.n_kv - j));
        S::store(s + j, S::round_f16(S::load(s + j, n)), n);
      }
  }

  // Weighted sum of the values: accumulators stay in registers, each value chunk is loaded once per head group.
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int n = int(std::min(W, hd - c * W));
    V acc[NH];
#pragma GCC unroll 8
    for (int64_t h = 0; h < nh; ++h) acc[h] = S::zero();
    for (int64_t j = 0; j < a.n_kv; ++j) {
      const V vv = S::load(reinterpret_cast<const T*>(a.v + j * a.stride) + c * W, n);
#pragma GCC unroll 8
      for (int64_t h = 0; h < nh; ++h) acc[h] = S::fma(S::set1(a.scores[(h0 + h) * a.n_kv + j]), vv, acc[h]);
    }
#pragma GCC unroll 8
    for (int64_t h = 0; h < nh; ++h) S::store(a.out + (h0 + h) * hd + c * W, acc[h], n);
  }
}

template <class S, class T>
void attend_simd(const AttentionArgs& a) {
  for (int64_t h0 = 0; h0 < a.n_q; h0 += 8) {
    switch (std::min<int64_t>(8, a.n_q - h0)) {
      case 1: attend_heads<S, T, 1>(a, h0); break;
      case 2: attend_heads<S, T, 2>(a, h0); break;
      case 3: attend_heads<S, T, 3>(a, h0); break;
      case 4: attend_heads<S, T, 4>(a, h0); break;
      case 5: attend_heads<S, T, 5>(a, h0); break;
      case 6: attend_heads<S, T, 6>(a, h0); break;
      case 7: attend_heads<S, T, 7>(a, h0); break;
      default: attend_heads<S, T, 8>(a, h0); break;
    }
  }
}

template <class S>
void attend_dispatch(const AttentionArgs& a) {
  if (a.type == DType::F32) attend_simd<S, float>(a);
  else attend_simd<S, f16_t>(a);
}

}  // namespace amusd::kernels::attention_detail
