// Q4_K panel helpers shared by the VNNI and AMX kernels (panels_q4k_avx512.cpp, panels_q4k_amx.cpp): the activation
// side and the decoding of a panel super-block's scales. Include only from files built with AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels/panels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels::panel_detail {
namespace {

using P = PanelType<DType::Q4_K>;

// Per token and super-block: the activation scale, and the sub-blocks' quant sums as int16 pairs (bsum of sub-block
// 2j in the low half of dword j, 2j + 1 in the high half), for vpdpwssd against the (min, min) pairs.
struct Act {
  const uint8_t* x;
  size_t row_bytes;
  int64_t n_blocks;
  float* d;         // [token][block]
  int32_t* bsum2;   // [token][block][4]
  const int8_t* qs(int64_t t, int64_t b) const {
    return reinterpret_cast<const block_q8_K*>(x + t * row_bytes)[b].qs;
  }
};

// A panel super-block's decoded scales and min pairs, one row per lane.
struct Scales {
  __m512i sc03, sc47;      // bytes: scales 0-3 / 4-7 of the row
  __m512i min_pair[4];     // int16 pairs (min 2j, min 2j + 1)
};

[[gnu::always_inline]] inline Scales decode_scales(const uint8_t* pb) {
  const __m512i a0 = _mm512_loadu_si512(pb + P::kScalesAt), a1 = _mm512_loadu_si512(pb + P::kScalesAt + 64),
                a2 = _mm512_loadu_si512(pb + P::kScalesAt + 128);
  const __m512i low6 = _mm512_set1_epi32(0x3f3f3f3f), low4 = _mm512_set1_epi32(0x0f0f0f0f),
                low2 = _mm512_set1_epi32(0x03030303);
  auto high_bits = [&](__m512i v) { return _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(v, 6), low2), 4); };
  Scales s;
  s.sc03 = _mm512_and_si512(a0, low6);
  s.sc47 = _mm512_or_si512(_mm512_and_si512(a2, low4), high_bits(a0));
  const __m512i m03 = _mm512_and_si512(a1, low6);
  const __m512i m47 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(a2, 4), low4), high_bits(a1));
  // per dword: bytes (b, -, b + 1, -) with zeros at "-": two int16 mins
  const __m512i pair01 = _mm512_set4_epi32(0x800d800c, 0x80098008, 0x80058004, 0x80018000);
  const __m512i pair23 = _mm512_set4_epi32(0x800f800e, 0x800b800a, 0x80078006, 0x80038002);
  s.min_pair[0] = _mm512_shuffle_epi8(m03, pair01);
  s.min_pair[1] = _mm512_shuffle_epi8(m03, pair23);
  s.min_pair[2] = _mm512_shuffle_epi8(m47, pair01);
  s.min_pair[3] = _mm512_shuffle_epi8(m47, pair23);
  return s;
}

// Scale of sub-block j (0..3) from a register of four scale bytes per lane, as int32.
[[gnu::always_inline]] inline __m512i scale_of(__m512i bytes, int j) {
  return _mm512_and_si512(_mm512_srli_epi32(bytes, 8 * j), _mm512_set1_epi32(0xFF));
}

// acc + the super-block's update for one token (panels.h): d * d_act * float(sumi) - dmin * d_act * float(summ), the
// mins' sum from the token's 4 bsum pairs. The file must be built without fp contraction (CMakeLists.txt).
[[gnu::always_inline]] inline __m512 add_block(__m512 acc, __m512i sumi, const Scales& sc, __m512 d, __m512 dmin,
                                               const int32_t* pairs, float d_act) {
  __m512i summ = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) summ = _mm512_dpwssd_epi32(summ, sc.min_pair[j], _mm512_set1_epi32(pairs[j]));
  const __m512 da = _mm512_set1_ps(d_act);
  const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(sumi)),
                                 _mm512_mul_ps(_mm512_mul_ps(dmin, da), _mm512_cvtepi32_ps(summ)));
  return _mm512_add_ps(acc, v);
}

// The f16 d / dmin of a panel super-block's rows.
[[gnu::always_inline]] inline __m512 row_d(const uint8_t* pb) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb)));
}
[[gnu::always_inline]] inline __m512 row_dmin(const uint8_t* pb) { return row_d(pb + 32); }

// The activation side of a gemm call.
inline Act prepare_act(const uint8_t* x, size_t x_row_bytes, int64_t n_tok, int64_t n_blocks) {
  Act a{x, x_row_bytes, n_blocks, scratch<float, 0>(size_t(n_tok * n_blocks)),
        scratch<int32_t, 0>(size_t(4 * n_tok * n_blocks))};
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto& blk = reinterpret_cast<const block_q8_K*>(x + t * x_row_bytes)[b];
      const size_t at = size_t(t * n_blocks + b);
      a.d[at] = blk.d;
      for (int j = 0; j < 4; ++j) {
        const int32_t lo = blk.bsums[4 * j] + blk.bsums[4 * j + 1], hi = blk.bsums[4 * j + 2] + blk.bsums[4 * j + 3];
        a.bsum2[4 * at + size_t(j)] = int32_t(uint32_t(uint16_t(lo)) | uint32_t(hi) << 16);
      }
    }
  return a;
}

}  // namespace
}  // namespace amusd::kernels::panel_detail
