// Attention of a group of query heads that share one KV head, for one token, over the cached positions.
//   for each query head h < n_q:  s[j] = scale * dot(q_h, K[j]),  p = softmax(s),  out_h = sum_j p[j] * V[j]
// With an F16 cache, q and p are rounded to F16 first (the reference engine converts them to the K / V type).
// Every (token, head) is computed the same way whatever else is in the batch, so a batched verification gives
// bit-identical results to one-token decoding.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace amusd::kernels {

constexpr int64_t kMaxHeadDim = 512;

struct AttentionArgs {
  const float* q;           // [n_q][head_dim] query heads (consecutive)
  const uint8_t* k;         // K[j] at k + j * stride: head_dim elements of `type`
  const uint8_t* v;         // V[j] likewise
  size_t stride;            // bytes between consecutive positions
  DType type;               // F32 or F16
  int64_t n_kv;             // positions attended to
  int64_t n_q;              // query heads in the group
  int64_t head_dim;         // <= kMaxHeadDim
  float scale;
  float* scores;            // scratch: n_q * n_kv floats
  float* out;               // [n_q][head_dim]
};

using AttendFn = void (*)(const AttentionArgs& a);

// The attention kernel for an ISA (scalar reference, AVX2, AVX-512).
AttendFn attention_kernel(Isa isa);

namespace attention_detail {
void attend_scalar(const AttentionArgs& a);
void attend_avx2(const AttentionArgs& a);
void attend_avx512(const AttentionArgs& a);
}  // namespace attention_detail

}  // namespace amusd::kernels
