// Legacy quantized types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; Q8_1 activations): the scalar reference kernels and the
// registration of every ISA's kernels. Compiled for baseline x86-64: the fast kernels live in the *_avx2 / *_avx512
// files and are only referenced here by address.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/legacy_kernels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels {

namespace {

// ================================================================================================
// Decoding one block into integer quants: q[j] for element j (0..31), value_j = q[j] * d + m.
// The "_0" types fold their offset into q (signed); the "_1" types keep q unsigned and have a min.
// ================================================================================================

struct Decoded {
  int q[32];
  float d;
  float m;  // 0 for the "_0" types
};

// Low nibble of qs[j] is element j, high nibble is element j + 16 (all 4- and 5-bit types).
void decode_nibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = qs[j] & 0x0F;
    q[j + 16] = qs[j] >> 4;
  }
}

// Bit j of qh is the fifth bit of element j.
void add_high_bits(const uint8_t* qh_bytes, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 32; ++j) q[j] |= int((qh >> j) & 1u) << 4;
}

Decoded decode(const block_q4_0& b) {
  Decoded r{};
  decode_nibbles(b.qs, r.q);
  for (int& v : r.q) v -= 8;
  r.d = f16_to_f32(b.d);
  return r;
}
Decoded decode(const block_q4_1& b) {
  Decoded r{};
  decode_nibbles(b.qs, r.q);
  r.d = f16_to_f32(b.d);
  r.m = f16_to_f32(b.m);
  return r;
}
Decoded decode(const block_q5_0& b) {
  Decoded r{};
  decode_nibbles(b.qs, r.q);
  add_high_bits(b.qh, r.q);
  for (int& v : r.q) v -= 16;
  r.d = f16_to_f32(b.d);
  return r;
}
Decoded decode(const block_q5_1& b) {
  Decoded r{};
  decode_nibbles(b.qs, r.q);
  add_high_bits(b.qh, r.q);
  r.d = f16_to_f32(b.d);
  r.m = f16_to_f32(b.m);
  return r;
}
Decoded decode(const block_q8_0& b) {
  Decoded r{};
  for (int j = 0; j < 32; ++j) r.q[j] = b.qs[j];
  r.d = f16_to_f32(b.d);
  return r;
}
Decoded decode(const block_q8_1& b) {
  Decoded r{};
  for (int j = 0; j < 32; ++j) r.q[j] = b.qs[j];
  r.d = f16_to_f32(b.d);
  return r;
}

template <class Block> constexpr bool kHasMin = std::is_same_v<Block, block_q4_1> || std::is_same_v<Block, block_q5_1>;

template <class Block>
void to_float_ref(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const Block*>(vx);
  for (int64_t i = 0; i < n / 32; ++i) {
    const Decoded b = decode(x[i]);
    for (int j = 0; j < 32; ++j) {
      y[i * 32 + j] = float(b.q[j]) * b.d;
      if constexpr (kHasMin<Block>) y[i * 32 + j] += b.m;
    }
  }
}

// ================================================================================================
// Weight quantizers: the reference engine's quantize_row_*_ref rules (truncating casts after +0.5 / +8.5 / +16.5).
// ================================================================================================

float abs_max_signed(const float* x) {  // the element of largest magnitude, with its sign (first one on ties)
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

void min_max(const float* x, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < 32; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
}

// Packs 32 quants (0..15 or 0..31) into nibbles and, for 5-bit types, the high-bit word.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = uint8_t((q[j] & 0x0F) | (q[j + 16] & 0x0F) << 4);
}
void pack_high_bits(const uint8_t* q, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= uint32_t(q[j] >> 4 & 1) << j;
  std::memcpy(qh_bytes, &qh, 4);
}

// Symmetric 4/5-bit: d = max / -half, q = min(2*half - 1, trunc(x / d + half + 0.5)).
void quantize_symmetric(const float* x, int half, f16_t& d16, uint8_t* q) {
  const float d = abs_max_signed(x) / float(-half);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d16 = f32_to_f16(d);
  for (int j = 0; j < 32; ++j) q[j] = uint8_t(std::min(2 * half - 1, int(int8_t(x[j] * id + (float(half) + 0.5f)))));
}

// Asymmetric 4/5-bit: d = (max - min) / (levels - 1), q = trunc((x - min) / d + 0.5) (clamped for 4 bits).
void quantize_asymmetric(const float* x, int levels, f16_t& d16, f16_t& m16, uint8_t* q) {
  float min, max;
  min_max(x, min, max);
  const float d = (max - min) / float(levels - 1);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  d16 = f32_to_f16(d);
  m16 = f32_to_f16(min);
  for (int j = 0; j < 32; ++j) {
    const float v = (x[j] - min) * id + 0.5f;
    q[j] = levels == 16 ? uint8_t(std::min(15, int(int8_t(v)))) : uint8_t(v);
  }
}

void from_float_q4_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_0*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    uint8_t q[32];
    quantize_symmetric(x + i * 32, 8, y[i].d, q);
    pack_nibbles(q, y[i].qs);
  }
}
void from_float_q4_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_1*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    uint8_t q[32];
    quantize_asymmetric(x + i * 32, 16, y[i].d, y[i].m, q);
    pack_nibbles(q, y[i].qs);
  }
}
void from_float_q5_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_0*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    uint8_t q[32];
    quantize_symmetric(x + i * 32, 16, y[i].d, q);
    pack_nibbles(q, y[i].qs);
    pack_high_bits(q, y[i].qh);
  }
}
void from_float_q5_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_1*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    uint8_t q[32];
    quantize_asymmetric(x + i * 32, 32, y[i].d, y[i].m, q);
    pack_nibbles(q, y[i].qs);
    pack_high_bits(q, y[i].qh);
  }
}

// ================================================================================================
// Activation quantizers (Q8_0, Q8_1): the reference engine's x86 run-time rule, see legacy_kernels.h.
// Q8_0 is also the weight quantizer of Q8_0 (the reference engine's quantize_row_q8_0_ref differs only in using
// 1 / (amax / 127) and rounding ties away from zero, which changes a quant by one in rare ties).
// ================================================================================================

// Quantizes one block; returns d (unrounded) and the sum of the quants.
float quantize_q8_block(const float* x, int8_t* q, int& sum) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  sum = 0;
  for (int j = 0; j < 32; ++j) {
    q[j] = int8_t(std::nearbyint(x[j] * id));  // default rounding mode: half to even
    sum += q[j];
  }
  return d;
}

void from_float_q8_0(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum;
    y[i].d = f32_to_f16(quantize_q8_block(x + i * 32, y[i].qs, sum));
  }
}
void from_float_q8_1(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_1*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum;
    const float d = quantize_q8_block(x + i * 32, y[i].qs, sum);
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * float(sum));
  }
}

// ================================================================================================
// Dot products: integer sum per block times the scales (the reference engine's scalar formula).
// ================================================================================================

template <class WBlock, class ABlock>
float vec_dot_ref(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const WBlock*>(vw);
  const auto* x = static_cast<const ABlock*>(vx);
  float sum = 0.0f;
  for (int64_t i = 0; i < n / 32; ++i) {
    const Decoded wb = decode(w[i]);
    int sumi = 0;
    for (int j = 0; j < 32; ++j) sumi += wb.q[j] * x[i].qs[j];
    sum += wb.d * f16_to_f32(x[i].d) * float(sumi);
    if constexpr (std::is_same_v<ABlock, block_q8_1>) sum += wb.m * f16_to_f32(x[i].s);
  }
  return sum;
}

template <class WBlock, class ABlock>
void gemm_ref(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
              int64_t n_tok, float* y, int64_t y_stride) {
  gemm_by_vec_dot(vec_dot_ref<WBlock, ABlock>, n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tok, y, y_stride);
}

// ================================================================================================
// Registration
// ================================================================================================

template <DType W, class WBlock, DType A, class ABlock>
TypeKernels reference_weight_kernels(FromFloatFn from_float) {
  return TypeKernels{W, A, to_float_ref<WBlock>, from_float, vec_dot_ref<WBlock, ABlock>, gemm_ref<WBlock, ABlock>};
}

void register_scalar(KernelTable& t) {
  using enum DType;
  t[uint32_t(Q4_0)] = reference_weight_kernels<Q4_0, block_q4_0, Q8_0, block_q8_0>(from_float_q4_0);
  t[uint32_t(Q4_1)] = reference_weight_kernels<Q4_1, block_q4_1, Q8_1, block_q8_1>(from_float_q4_1);
  t[uint32_t(Q5_0)] = reference_weight_kernels<Q5_0, block_q5_0, Q8_0, block_q8_0>(from_float_q5_0);
  t[uint32_t(Q5_1)] = reference_weight_kernels<Q5_1, block_q5_1, Q8_1, block_q8_1>(from_float_q5_1);
  t[uint32_t(Q8_0)] = reference_weight_kernels<Q8_0, block_q8_0, Q8_0, block_q8_0>(from_float_q8_0);
  // Activation-only type: conversions, no dot product.
  t[uint32_t(Q8_1)] = TypeKernels{Q8_1, Q8_1, to_float_ref<block_q8_1>, from_float_q8_1, nullptr, nullptr};
}

// The fast kernels of one ISA, by address (the functions are explicitly instantiated in the ISA file).
struct Avx2Fns {
  template <DType W> static constexpr ToFloatFn to_float = &legacy::avx2::to_float<W>;
  template <DType A> static constexpr FromFloatFn quantize_act = &legacy::avx2::quantize_act<A>;
  template <DType W> static constexpr VecDotFn vec_dot = &legacy::avx2::vec_dot<W>;
  template <DType W> static constexpr GemmFn gemm = &legacy::avx2::gemm<W>;
};
struct Avx512Fns {
  template <DType W> static constexpr ToFloatFn to_float = &legacy::avx512::to_float<W>;
  template <DType A> static constexpr FromFloatFn quantize_act = &legacy::avx512::quantize_act<A>;
  template <DType W> static constexpr VecDotFn vec_dot = &legacy::avx512::vec_dot<W>;
  template <DType W> static constexpr GemmFn gemm = &legacy::avx512::gemm<W>;
};

template <class Fns, DType W>
void set_fast_weight(KernelTable& t) {
  TypeKernels& k = t[uint32_t(W)];
  k.to_float = Fns::template to_float<W>;
  k.vec_dot = Fns::template vec_dot<W>;
  k.gemm = Fns::template gemm<W>;
}

// Overwrites what an ISA specialises: to_float, vec_dot and gemm of the weight types, the activation quantizers.
// (The 4- and 5-bit weight quantizers stay scalar: they only run when writing files.)
template <class Fns>
void register_fast(KernelTable& t) {
  using enum DType;
  set_fast_weight<Fns, Q4_0>(t);
  set_fast_weight<Fns, Q4_1>(t);
  set_fast_weight<Fns, Q5_0>(t);
  set_fast_weight<Fns, Q5_1>(t);
  set_fast_weight<Fns, Q8_0>(t);
  t[uint32_t(Q8_0)].from_float = Fns::template quantize_act<Q8_0>;
  t[uint32_t(Q8_1)].from_float = Fns::template quantize_act<Q8_1>;
  t[uint32_t(Q8_1)].to_float = Fns::template to_float<Q8_1>;
}

}  // namespace

void register_legacy_kernels(KernelTable& table, Isa isa) {
  switch (isa) {
    case Isa::Scalar: register_scalar(table); break;
    case Isa::Avx2: register_fast<Avx2Fns>(table); break;
    case Isa::Avx512: register_fast<Avx512Fns>(table); break;
  }
}

}  // namespace amusd::kernels
