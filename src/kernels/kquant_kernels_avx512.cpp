// K-quant products with AVX-512 VNNI.
//
// The AVX2 kernels pay two multiplies per 32 quants and token (maddubs, then madd with the group scales). Here each
// 16-element group's dot product is accumulated by VNNI dpbusd alone (u8 x i8, 4 products per i32 lane), and the
// group scales are applied once per block in float. For that, every i32 lane must see one group only, in all four
// 64-byte registers of a super-block: weights and activations are both "transposed" so that
//   register k, i32 lane 4j + m  =  quants 4k .. 4k + 3 of group kOrder[m][j]        (k, j, m = 0..3)
// The weights are unpacked straight into 512-bit registers, one 16-quant group per 128-bit lane, in the group order
// kOrder that the packed bits give without lane shuffles (a per-type table), and transposed while in registers; the
// activations are put in the same order and layout once per gemm call, into a scratch buffer that all rows share.
// Per super-block and token:
//   4 x dpbusd -> 16 group sums (i32) -> float, times d * scale[g], plus the mins from the bsums, into the token's
//   accumulator.
// The same tile code serves vec_dot and gemm, so a token's result does not depend on the batch it is in.

// GCC 12's AVX-512 intrinsics build their "undefined" operands from self-initialised variables, which -Wuninitialized
// reports once inlined (GCC bug 105593, fixed in 13); the pragma must precede <immintrin.h>.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <array>
#include <memory>
#include <utility>
#include <vector>

#include "kernels/kquant_unpack_avx2.h"

namespace amusd::kernels::kquant::avx512 {
namespace {

constexpr int kMaxTile = 16;  // tokens per pass over a row

inline float hsum(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ---- 512-bit unpacking: four registers of four groups ----------------------------------------------------------

// A weight super-block as z[m] = four 16-quant groups, one per 128-bit lane: lane j of z[m] holds group
// Kind::kOrder[m][j] (the order its packing gives without lane shuffles).
struct Unpacked512 : GroupScales {
  __m512i z[4];
};

// i16 shift counts, one count per 128-bit lane.
inline __m512i lane_counts(int64_t a, int64_t b, int64_t c, int64_t d) {
  constexpr int64_t k = 0x0001000100010001;
  return _mm512_setr_epi64(a * k, a * k, b * k, b * k, c * k, c * k, d * k, d * k);
}

// The bit field (mask) at bit `counts` (per 128-bit lane) of every byte, moved to bit `pos`. The shifts are 16 bits
// wide; the mask drops what came from the neighbouring byte.
inline __m512i bits_at(__m512i bytes, __m512i counts, char mask, int pos) {
  return _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(bytes, counts), _mm512_set1_epi8(mask)), pos);
}

// The 32 bytes at p in both 256-bit halves: lane j holds bytes 16 (j % 2) .. 16 (j % 2) + 15.
inline __m512i broadcast256(const uint8_t* p) { return _mm512_broadcast_i64x4(load256(p)); }

// Q2_K: 2-bit field j of qs[32c + l] is element 128c + 32j + l; z[j] = field j of all 64 bytes.
struct Q2K512 : Q2K {
  static constexpr int kOrder[4][4] = {{0, 1, 8, 9}, {2, 3, 10, 11}, {4, 5, 12, 13}, {6, 7, 14, 15}};
  static void unpack512(const Block& b, Unpacked512& u) {
    static_cast<GroupScales&>(u) = scales(b);
    const __m512i qs = _mm512_loadu_si512(b.qs), m3 = _mm512_set1_epi8(3);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) u.z[j] = _mm512_and_si512(_mm512_srli_epi16(qs, 2 * j), m3);
  }
};

// Q3_K: as Q2_K, plus bit 4c + j of hmask[l] as bit 2 (c = lane / 2 picks the 128-element half).
struct Q3K512 : Q3K {
  static constexpr int kOrder[4][4] = {{0, 1, 8, 9}, {2, 3, 10, 11}, {4, 5, 12, 13}, {6, 7, 14, 15}};
  static void unpack512(const Block& b, Unpacked512& u) {
    static_cast<GroupScales&>(u) = scales(b);
    const __m512i qs = _mm512_loadu_si512(b.qs), m3 = _mm512_set1_epi8(3), hmask = broadcast256(b.hmask);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      u.z[j] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(qs, 2 * j), m3),
                               bits_at(hmask, lane_counts(j, j, 4 + j, 4 + j), 1, 2));
  }
};

// Q4_K / Q5_K nibbles: qs[32c + l] holds element 64c + l (low nibble) and 64c + 32 + l (high nibble).
constexpr int kOrder4bit[4][4] = {{0, 1, 4, 5}, {2, 3, 6, 7}, {8, 9, 12, 13}, {10, 11, 14, 15}};
inline void unpack_4bit_512(const uint8_t* qs, __m512i z[4]) {
  const __m512i m4 = _mm512_set1_epi8(0xF);
  #pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m512i bits = _mm512_loadu_si512(qs + 64 * h);
    z[2 * h] = _mm512_and_si512(bits, m4);
    z[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(bits, 4), m4);
  }
}

struct Q4K512 : Q4K {
  static constexpr auto& kOrder = kOrder4bit;
  static void unpack512(const Block& b, Unpacked512& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_4bit_512(b.qs, u.z);
  }
};

// Q5_K: as Q4_K, plus bit e / 32 of qh[e % 32] as bit 4.
struct Q5K512 : Q5K {
  static constexpr auto& kOrder = kOrder4bit;
  static void unpack512(const Block& b, Unpacked512& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_4bit_512(b.qs, u.z);
    const __m512i qh = broadcast256(b.qh);
    u.z[0] = _mm512_or_si512(u.z[0], bits_at(qh, lane_counts(0, 0, 2, 2), 1, 4));
    u.z[1] = _mm512_or_si512(u.z[1], bits_at(qh, lane_counts(1, 1, 3, 3), 1, 4));
    u.z[2] = _mm512_or_si512(u.z[2], bits_at(qh, lane_counts(4, 4, 6, 6), 1, 4));
    u.z[3] = _mm512_or_si512(u.z[3], bits_at(qh, lane_counts(5, 5, 7, 7), 1, 4));
  }
};

// Q6_K: element 128c + 32k + l: low nibble in ql[64c + 32(k & 1) + l] (nibble k >> 1), bits 4-5 from qh[32c + l]
// bits 2k..2k+1. Groups come out in order.
struct Q6K512 : Q6K {
  static constexpr int kOrder[4][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13, 14, 15}};
  static void unpack512(const Block& b, Unpacked512& u) {
    static_cast<GroupScales&>(u) = scales(b);
    const __m512i m4 = _mm512_set1_epi8(0xF);
    const __m512i qh = _mm512_loadu_si512(b.qh);
    #pragma GCC unroll 2
    for (int c = 0; c < 2; ++c) {
      const __m512i ql = _mm512_loadu_si512(b.ql + 64 * c);
      // qh[32c .. 32c + 31] in both halves
      const __m512i h = c == 0 ? _mm512_shuffle_i64x2(qh, qh, _MM_SHUFFLE(1, 0, 1, 0))
                               : _mm512_shuffle_i64x2(qh, qh, _MM_SHUFFLE(3, 2, 3, 2));
      u.z[2 * c] = _mm512_or_si512(_mm512_and_si512(ql, m4), bits_at(h, lane_counts(0, 0, 2, 2), 3, 4));
      u.z[2 * c + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                       bits_at(h, lane_counts(4, 4, 6, 6), 3, 4));
    }
  }
};

// ---- the transposed layout -------------------------------------------------------------------------------------

// z[m] holds four groups in its 128-bit lanes (16 quants = 4 dwords each). Returns t[k] with dword lane 4j + m =
// dword k of lane j of z[m].
inline void transpose_groups(const __m512i z[4], __m512i t[4]) {
  const __m512i a0 = _mm512_unpacklo_epi32(z[0], z[1]);  // per 128-bit lane j: z0.0 z1.0 z0.1 z1.1
  const __m512i a1 = _mm512_unpackhi_epi32(z[0], z[1]);  //                     z0.2 z1.2 z0.3 z1.3
  const __m512i b0 = _mm512_unpacklo_epi32(z[2], z[3]);
  const __m512i b1 = _mm512_unpackhi_epi32(z[2], z[3]);
  t[0] = _mm512_unpacklo_epi64(a0, b0);  // z0.0 z1.0 z2.0 z3.0
  t[1] = _mm512_unpackhi_epi64(a0, b0);
  t[2] = _mm512_unpacklo_epi64(a1, b1);
  t[3] = _mm512_unpackhi_epi64(a1, b1);
}

// 16 per-group i16 values (group order) -> i32 in transposed lane order: lane 4j + m gets group kOrder[m][j].
template <class Kind>
inline __m512i groups_to_lanes(__m256i v) {
  constexpr auto& o = Kind::kOrder;
  const __m512i group_of_lane = _mm512_setr_epi32(o[0][0], o[1][0], o[2][0], o[3][0], o[0][1], o[1][1], o[2][1],
                                                  o[3][1], o[0][2], o[1][2], o[2][2], o[3][2], o[0][3], o[1][3],
                                                  o[2][3], o[3][3]);
  return _mm512_permutexvar_epi32(group_of_lane, _mm512_cvtepi16_epi32(v));
}

// One Q8_K block of activations in the transposed layout of a weight type.
struct PreparedQ8K {
  __m512i q[4];  // transposed quants
  __m512i bias;  // per lane (group): offset types: -offset * bsum as i32 (the start of the integer sum);
                 //                   min types: bsum as float
  float d;
};

template <class Kind>
void prepare(const block_q8_K& y, PreparedQ8K& p) {
  constexpr auto& o = Kind::kOrder;
  __m512i z[4];
  #pragma GCC unroll 4
  for (int m = 0; m < 4; ++m) {  // the groups of lane j of z[m]: kOrder[m][j]
    const __m256i lo = _mm256_setr_m128i(load128(y.qs + 16 * o[m][0]), load128(y.qs + 16 * o[m][1]));
    const __m256i hi = _mm256_setr_m128i(load128(y.qs + 16 * o[m][2]), load128(y.qs + 16 * o[m][3]));
    z[m] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  transpose_groups(z, p.q);
  const __m512i bsums = groups_to_lanes<Kind>(load256(y.bsums));
  if constexpr (Kind::kOffset != 0) p.bias = _mm512_mullo_epi32(bsums, _mm512_set1_epi32(-Kind::kOffset));
  else p.bias = _mm512_castps_si512(_mm512_cvtepi32_ps(bsums));
  p.d = y.d;
}

// n_tok rows of nb Q8_K blocks (x_row_bytes apart) -> out[t * nb + b], in a per-thread buffer that grows as needed
// (no allocation per call: a decode step calls gemm a few hundred times). Valid until the thread's next call.
template <class Kind>
const PreparedQ8K* prepare_rows(const void* x, size_t x_row_bytes, int64_t n_tok, int64_t nb) {
  thread_local std::vector<PreparedQ8K> buffer;
  if (buffer.size() < size_t(n_tok * nb)) buffer.resize(size_t(n_tok * nb));
  PreparedQ8K* out = buffer.data();
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t t = 0; t < n_tok; ++t) {
    const auto* row = reinterpret_cast<const block_q8_K*>(xb + t * x_row_bytes);
    for (int64_t b = 0; b < nb; ++b) prepare<Kind>(row[b], out[size_t(t * nb + b)]);
  }
  return out;
}

// A weight super-block in the transposed layout, with its float group factors (lane order).
struct WideBlock {
  __m512i q[4];
  __m512 scale;  // d * scale[g]
  __m512 min;    // -dmin * min[g] (min types only)
};

template <class Kind>
inline void unpack_wide(const typename Kind::Block& b, WideBlock& w) {
  Unpacked512 u;
  Kind::unpack512(b, u);
  transpose_groups(u.z, w.q);
  w.scale = _mm512_mul_ps(_mm512_set1_ps(u.d), _mm512_cvtepi32_ps(groups_to_lanes<Kind>(u.scale)));
  if constexpr (Kind::kOffset == 0)
    w.min = _mm512_mul_ps(_mm512_set1_ps(-u.dmin), _mm512_cvtepi32_ps(groups_to_lanes<Kind>(u.min)));
}

// ---- products ------------------------------------------------------------------------------------------------

// out[t] = dot(row w of nb super-blocks, prepared token t at x + t * nb), t < NT.
template <class Kind, int NT>
void dot_tile(int64_t nb, const typename Kind::Block* w, const PreparedQ8K* x, float* out) {
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead(w + b);
    WideBlock wide;
    unpack_wide<Kind>(w[b], wide);
    #pragma GCC unroll 16
    for (int t = 0; t < NT; ++t) {
      const PreparedQ8K& y = x[t * nb + b];
      __m512i sum = Kind::kOffset != 0 ? y.bias : _mm512_setzero_si512();
      #pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) sum = _mm512_dpbusd_epi32(sum, wide.q[k], y.q[k]);
      __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), wide.scale);
      if constexpr (Kind::kOffset == 0) v = _mm512_fmadd_ps(_mm512_castsi512_ps(y.bias), wide.min, v);
      acc[t] = _mm512_fmadd_ps(v, _mm512_set1_ps(y.d), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
}

template <class Kind>
using TileFn = void (*)(int64_t, const typename Kind::Block*, const PreparedQ8K*, float*);

template <class Kind, size_t... I>
constexpr std::array<TileFn<Kind>, sizeof...(I)> make_tiles(std::index_sequence<I...>) {
  return {&dot_tile<Kind, int(I) + 1>...};
}

template <class Kind>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  static constexpr auto tiles = make_tiles<Kind>(std::make_index_sequence<kMaxTile>());
  const int64_t nb = n / QK_K;
  const auto xp = prepare_rows<Kind>(x, x_row_bytes, n_tok, nb);  // shared by all rows
  const auto* wb = static_cast<const uint8_t*>(w);
  for_each_tile<kMaxTile>(n_rows, n_tok, y, y_stride, [&](int64_t r, int64_t t0, int nt, float* out) {
    const auto* row = reinterpret_cast<const typename Kind::Block*>(wb + r * w_row_bytes);
    tiles[nt - 1](nb, row, xp + t0 * nb, out);
  });
}

template <class Kind>
float vec_dot(int64_t n, const void* w, const void* x) {
  const int64_t nb = n / QK_K;
  const auto xp = prepare_rows<Kind>(x, 0, 1, nb);
  float out;
  dot_tile<Kind, 1>(nb, static_cast<const typename Kind::Block*>(w), xp, &out);
  return out;
}

}  // namespace

float vec_dot_q2_K(int64_t n, const void* w, const void* x) { return vec_dot<Q2K512>(n, w, x); }
float vec_dot_q3_K(int64_t n, const void* w, const void* x) { return vec_dot<Q3K512>(n, w, x); }
float vec_dot_q4_K(int64_t n, const void* w, const void* x) { return vec_dot<Q4K512>(n, w, x); }
float vec_dot_q5_K(int64_t n, const void* w, const void* x) { return vec_dot<Q5K512>(n, w, x); }
float vec_dot_q6_K(int64_t n, const void* w, const void* x) { return vec_dot<Q6K512>(n, w, x); }

#define AMUSD_KQUANT_GEMM(name, Kind)                                                                          \
  void name(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, \
            int64_t n_tok, float* y, int64_t y_stride) {                                                      \
    gemm<Kind>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tok, y, y_stride);                                \
  }
AMUSD_KQUANT_GEMM(gemm_q2_K, Q2K512)
AMUSD_KQUANT_GEMM(gemm_q3_K, Q3K512)
AMUSD_KQUANT_GEMM(gemm_q4_K, Q4K512)
AMUSD_KQUANT_GEMM(gemm_q5_K, Q5K512)
AMUSD_KQUANT_GEMM(gemm_q6_K, Q6K512)
#undef AMUSD_KQUANT_GEMM

}  // namespace amusd::kernels::kquant::avx512
