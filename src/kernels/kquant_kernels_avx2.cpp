// K-quants with AVX2 + FMA + F16C: dequantization, the Q8_K quantizer, and the products.
//
// gemm streams the weight matrix once (loop order: for_each_tile in kquant_kernels.h). Each super-block of a row is
// unpacked once (quants to u8, scales to i16, by kquant_unpack_avx2.h) and then multiplied against the Q8_K blocks of
// a tile of up to kMaxTile tokens while it is in registers:
//   per 32 quants:  maddubs(q u8, x i8) -> 16 x i16 pair sums;  madd(., scale i16) -> 8 x i32
// (no overflow: pair sums <= 2 * 63 * 127). The group mins / offsets use the Q8_K bsums, once per token and block.
// Each token's result is the same whatever the tile size, so batched verification reproduces single-token decoding.
#include <algorithm>
#include <array>
#include <utility>

#include "kernels/kquant_unpack_avx2.h"

namespace amusd::kernels::kquant::avx2 {
namespace {

constexpr int kMaxTile = 8;  // tokens per pass over a row

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Scales lined up with maddubs's pair sums of q[k]: i16 lanes 0-7 get group 2k's scale, lanes 8-15 group 2k + 1's.
inline void pair_scales(__m256i scale, __m256i out[8]) {
  const __m256i lo = _mm256_permute4x64_epi64(scale, 0x44);  // groups 0-7 in both 128-bit lanes
  const __m256i hi = _mm256_permute4x64_epi64(scale, 0xEE);  // groups 8-15 in both 128-bit lanes
  #pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const short even = short((4 * k) | (4 * k + 1) << 8), odd = short((4 * k + 2) | (4 * k + 3) << 8);
    const __m256i pick = _mm256_setr_m128i(_mm_set1_epi16(even), _mm_set1_epi16(odd));
    out[k] = _mm256_shuffle_epi8(lo, pick);
    out[k + 4] = _mm256_shuffle_epi8(hi, pick);
  }
}

// The bsums multiplier: min types subtract dmin * min[g] * bsums[g]; offset types d * offset * scale[g] * bsums[g].
template <class Kind>
inline __m256i bsum_weights(const Unpacked& u) {
  if constexpr (Kind::kOffset != 0) return _mm256_mullo_epi16(u.scale, _mm256_set1_epi16(Kind::kOffset));
  else return u.min;
}

// out[t] = dot(row w of nb super-blocks, Q8_K row t at x + t * x_row_bytes), t < NT.
template <class Kind, int NT>
void dot_tile(int64_t nb, const typename Kind::Block* w, const uint8_t* x, size_t x_row_bytes, float* out) {
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead(w + b);
    Unpacked u;
    Kind::unpack(w[b], u);
    __m256i scales[8];
    pair_scales(u.scale, scales);
    const __m256i bias = bsum_weights<Kind>(u);
    const __m256 d = _mm256_set1_ps(u.d), neg_dmin = _mm256_set1_ps(-u.dmin);
    #pragma GCC unroll 8
    for (int t = 0; t < NT; ++t) {
      const block_q8_K& y = reinterpret_cast<const block_q8_K*>(x + t * x_row_bytes)[b];
      __m256i sum = _mm256_setzero_si256();
      #pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m256i pairs = _mm256_maddubs_epi16(u.q[k], load256(y.qs + 32 * k));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, scales[k]));
      }
      const __m256i bsum = _mm256_madd_epi16(load256(y.bsums), bias);
      const __m256 yd = _mm256_broadcast_ss(&y.d);
      if constexpr (Kind::kOffset != 0) {
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sum, bsum)), _mm256_mul_ps(d, yd), acc[t]);
      } else {
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(d, yd), acc[t]);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(bsum), _mm256_mul_ps(neg_dmin, yd), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
}

template <class Kind>
using TileFn = void (*)(int64_t, const typename Kind::Block*, const uint8_t*, size_t, float*);

template <class Kind, size_t... I>
constexpr std::array<TileFn<Kind>, sizeof...(I)> make_tiles(std::index_sequence<I...>) {
  return {&dot_tile<Kind, int(I) + 1>...};
}

template <class Kind>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  static constexpr auto tiles = make_tiles<Kind>(std::make_index_sequence<kMaxTile>());
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  for_each_tile<kMaxTile>(n_rows, n_tok, y, y_stride, [&](int64_t r, int64_t t0, int nt, float* out) {
    const auto* row = reinterpret_cast<const typename Kind::Block*>(wb + r * w_row_bytes);
    tiles[nt - 1](n / QK_K, row, xb + t0 * x_row_bytes, x_row_bytes, out);
  });
}

template <class Kind>
float vec_dot(int64_t n, const void* w, const void* x) {
  float out;
  dot_tile<Kind, 1>(n / QK_K, static_cast<const typename Kind::Block*>(w), static_cast<const uint8_t*>(x), 0, &out);
  return out;
}

// ---- dequantization ----------------------------------------------------------------------------------------

// out[g] = f * float(v[g]) for the 16 i16 lanes of v (same rounding as the scalar reference).
inline void scale_groups(__m256i v, float f, float out[16]) {
  const __m256 vf = _mm256_set1_ps(f);
  const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
  const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
  _mm256_storeu_ps(out, _mm256_mul_ps(vf, lo));
  _mm256_storeu_ps(out + 8, _mm256_mul_ps(vf, hi));
}

template <class Kind>
void to_float(const void* x, float* y, int64_t n) {
  const auto* blocks = static_cast<const typename Kind::Block*>(x);
  const __m256i offset = _mm256_set1_epi32(Kind::kOffset);
  for (int64_t i = 0; i < n / QK_K; ++i, y += QK_K) {
    Unpacked u;
    Kind::unpack(blocks[i], u);
    float dg[16], mg[16];  // per group: d * scale, dmin * min
    scale_groups(u.scale, u.d, dg);
    scale_groups(u.min, u.dmin, mg);
    #pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m128i halves[2] = {_mm256_castsi256_si128(u.q[k]), _mm256_extracti128_si256(u.q[k], 1)};
      #pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {  // 16 elements = group 2k + h
        const int g = 2 * k + h;
        #pragma GCC unroll 2
        for (int s = 0; s < 2; ++s) {
          const __m128i bytes = s ? _mm_srli_si128(halves[h], 8) : halves[h];
          const __m256 q = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), offset));
          const __m256 v = _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(dg[g]), q), _mm256_set1_ps(mg[g]));
          _mm256_storeu_ps(y + 16 * g + 8 * s, v);
        }
      }
    }
  }
}

}  // namespace

// ---- Q8_K ----------------------------------------------------------------------------------------------------

void to_float_q8_K(const void* x, float* y, int64_t n) {
  const auto* blocks = static_cast<const block_q8_K*>(x);
  for (int64_t i = 0; i < n / QK_K; ++i, y += QK_K) {
    const __m256 d = _mm256_set1_ps(blocks[i].d);
    for (int e = 0; e < QK_K; e += 8) {
      const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blocks[i].qs + e)));
      _mm256_storeu_ps(y + e, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
    }
  }
}

// Same rounding as the scalar reference (kquant::quantize_q8_K): the first element of largest magnitude sets the
// scale, products iscale * x rounded to nearest even.
void quantize_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    block_q8_K& b = y[i];
    __m256 vmax = _mm256_setzero_ps();
    for (int e = 0; e < QK_K; e += 8) vmax = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + e), abs_mask), vmax);
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float amax = _mm_cvtss_f32(m);
    if (!amax) {
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    int first = 0;  // first index with |x| == amax
    for (int e = 0; e < QK_K; e += 8) {
      const __m256 eq = _mm256_cmp_ps(_mm256_and_ps(_mm256_loadu_ps(x + e), abs_mask), _mm256_set1_ps(amax),
                                      _CMP_EQ_OQ);
      if (const int mask = _mm256_movemask_ps(eq)) {
        first = e + __builtin_ctz(unsigned(mask));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i max_q = _mm256_set1_epi32(127);
    for (int e = 0; e < QK_K; e += 32) {
      __m256i v[4];
      #pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + e + 8 * j)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v[j] = _mm256_min_epi32(_mm256_cvtps_epi32(r), max_q);
      }
      // packs work per 128-bit lane: bytes come out in dword order 0 2 4 6 1 3 5 7; permute them back.
      const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
      const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + e), ordered);
    }
    for (int g = 0; g < QK_K / 16; ++g) {  // sums of 16 quants: i8 -> i16, then pairwise to i32 and across
      const __m256i q16 = _mm256_cvtepi8_epi16(load128(b.qs + 16 * g));
      const __m256i s32 = _mm256_madd_epi16(q16, _mm256_set1_epi16(1));
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
      s = _mm_hadd_epi32(s, s);
      s = _mm_hadd_epi32(s, s);
      b.bsums[g] = int16_t(_mm_cvtsi128_si32(s));
    }
    b.d = 1 / iscale;
  }
}

// ---- entry points ----------------------------------------------------------------------------------------------

void to_float_q2_K(const void* x, float* y, int64_t n) { to_float<Q2K>(x, y, n); }
void to_float_q3_K(const void* x, float* y, int64_t n) { to_float<Q3K>(x, y, n); }
void to_float_q4_K(const void* x, float* y, int64_t n) { to_float<Q4K>(x, y, n); }
void to_float_q5_K(const void* x, float* y, int64_t n) { to_float<Q5K>(x, y, n); }
void to_float_q6_K(const void* x, float* y, int64_t n) { to_float<Q6K>(x, y, n); }

float vec_dot_q2_K(int64_t n, const void* w, const void* x) { return vec_dot<Q2K>(n, w, x); }
float vec_dot_q3_K(int64_t n, const void* w, const void* x) { return vec_dot<Q3K>(n, w, x); }
float vec_dot_q4_K(int64_t n, const void* w, const void* x) { return vec_dot<Q4K>(n, w, x); }
float vec_dot_q5_K(int64_t n, const void* w, const void* x) { return vec_dot<Q5K>(n, w, x); }
float vec_dot_q6_K(int64_t n, const void* w, const void* x) { return vec_dot<Q6K>(n, w, x); }

#define AMUSD_KQUANT_GEMM(name, Kind)                                                                          \
  void name(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes, \
            int64_t n_tok, float* y, int64_t y_stride) {                                                      \
    gemm<Kind>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tok, y, y_stride);                                \
  }
AMUSD_KQUANT_GEMM(gemm_q2_K, Q2K)
AMUSD_KQUANT_GEMM(gemm_q3_K, Q3K)
AMUSD_KQUANT_GEMM(gemm_q4_K, Q4K)
AMUSD_KQUANT_GEMM(gemm_q5_K, Q5K)
AMUSD_KQUANT_GEMM(gemm_q6_K, Q6K)
#undef AMUSD_KQUANT_GEMM

}  // namespace amusd::kernels::kquant::avx2
