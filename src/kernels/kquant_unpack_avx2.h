// AVX2 unpacking of K-quant super-blocks into the common shape described in kquant_kernels.h:
//   w[e] = d * scale[g] * (q[e] - offset) - dmin * min[g],   g = e / 16.
// Shared by kquant_kernels_avx2.cpp and kquant_kernels_avx512.cpp (which widens the result); include nowhere else.
#pragma once

#if !defined(__AVX2__) || !defined(__F16C__)
#error "kquant_unpack_avx2.h needs -mavx2 -mf16c"
#endif

#include <immintrin.h>

#include "kernels/kquant_kernels.h"

namespace amusd::kernels::kquant {
namespace {  // internal linkage: each ISA file gets its own copy (see kquant_kernels.h)

// The scale factors of one super-block.
struct GroupScales {
  __m256i scale;  // i16 x 16: scale of each 16-element group
  __m256i min;    // i16 x 16: min of each group (zero for the offset types)
  float d = 0, dmin = 0;
};

// One super-block, ready for the integer dot product with Q8_K (maddubs: unsigned quants x signed activations).
struct Unpacked : GroupScales {
  __m256i q[8];  // u8: q[k] holds the quants of elements 32k .. 32k + 31, in order
};

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline float half_to_float(f16_t h) { return _cvtsh_ss(h); }

// ORs bit k of each byte of `bits` (k = 0..7, one per q[k]) into bit `pos` of q[k]'s bytes.
inline void or_high_bits(__m256i bits, int pos, __m256i q[8]) {
  const __m256i one = _mm256_set1_epi8(1);
  #pragma GCC unroll 8
  for (int k = 0; k < 8; ++k) {
    // A 16-bit shift moves the upper byte's bits into the lower byte's top bits; bit 0 stays clean for k < 8.
    q[k] = _mm256_or_si256(q[k], _mm256_slli_epi16(_mm256_and_si256(bits, one), pos));
    bits = _mm256_srli_epi16(bits, 1);
  }
}

// Two-bit quants of Q2_K / Q3_K: qs[32c + l] holds element 128c + 32j + l in bits 2j..2j+1.
inline void unpack_2bit(const uint8_t* qs, __m256i q[8]) {
  const __m256i m3 = _mm256_set1_epi8(3);
  #pragma GCC unroll 2
  for (int c = 0; c < 2; ++c) {
    __m256i bits = load256(qs + 32 * c);
    #pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      q[4 * c + j] = _mm256_and_si256(bits, m3);
      bits = _mm256_srli_epi16(bits, 2);
    }
  }
}

// Four-bit quants of Q4_K / Q5_K: qs[32c + l] holds element 64c + l (low nibble) and 64c + 32 + l (high nibble).
inline void unpack_4bit(const uint8_t* qs, __m256i q[8]) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  #pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m256i bits = load256(qs + 32 * c);
    q[2 * c] = _mm256_and_si256(bits, m4);
    q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
  }
}

// The 12 packed scale bytes of Q3_K / Q4_K / Q5_K as dwords [a0, a1, a2, 0] (never reads past the 12 bytes).
inline __m128i load_scale_bytes(const uint8_t* p) {
  return _mm_insert_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), int(load_u32(p + 8)), 2);
}

// Q4_K / Q5_K: the dword formulas of unpack_scales_mins_k4 (kquant_kernels.h), four at once:
//   [a0 & 3f, (a2 & 0f) | (a0 >> 6 & 03) << 4, a1 & 3f, (a2 >> 4 & 0f) | (a1 >> 6 & 03) << 4]
// = 8 scales then 8 mins, one per 32-element sub-block, widened to one i16 per 16-element group.
inline void load_scales_mins_k4(const uint8_t* packed, GroupScales& u) {
  const __m128i a = load_scale_bytes(packed);
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(2, 1, 2, 0)), _mm_setr_epi32(0, 0, 0, 4)),
                                    _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(1, 1, 0, 0)), _mm_setr_epi32(0, 6, 0, 6)),
                                     _mm_setr_epi32(0, 0x03030303, 0, 0x03030303));
  const __m128i v = _mm_or_si128(low, _mm_slli_epi32(high, 4));  // scales 0..7, mins 0..7
  u.scale = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));         // s0 s0 s1 s1 ... s7 s7
  u.min = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(v, v));
}

// Q3_K: the dword formulas of unpack_scales_q3_K (kquant_kernels.h), four at once:
//   [(a0 & 0f) | (a2 & 03) << 4, (a1 & 0f) | (a2 >> 2 & 03) << 4, (a0 >> 4 & 0f) | ..., (a1 >> 4 & 0f) | ...]
// minus the bias of 32, as one i16 per group.
inline __m256i load_scales_q3_K(const uint8_t* packed) {
  const __m128i a = load_scale_bytes(packed);
  const __m128i low = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(1, 0, 1, 0)), _mm_setr_epi32(0, 0, 4, 4)),
                                    _mm_set1_epi8(0x0f));
  const __m128i high = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(a, _MM_SHUFFLE(2, 2, 2, 2)), _mm_setr_epi32(0, 2, 4, 6)),
                                     _mm_set1_epi8(0x03));
  const __m128i biased = _mm_or_si128(low, _mm_slli_epi32(high, 4));
  return _mm256_cvtepi8_epi16(_mm_sub_epi8(biased, _mm_set1_epi8(32)));
}

// ---- one descriptor per weight type ---------------------------------------------------------------------------
// Block: the block struct; kOffset: see kquant_kernels.h; scales(b): the group scales; unpack(b, u): everything.

struct Q2K {
  using Block = block_q2_K;
  static constexpr int kOffset = 0;
  static GroupScales scales(const Block& b) {
    GroupScales s;
    s.d = half_to_float(b.d);
    s.dmin = half_to_float(b.dmin);
    const __m128i sm = load128(b.scales);  // low nibble scale, high nibble min
    const __m128i m4 = _mm_set1_epi8(0xF);
    s.scale = _mm256_cvtepu8_epi16(_mm_and_si128(sm, m4));
    s.min = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), m4));
    return s;
  }
  static void unpack(const Block& b, Unpacked& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_2bit(b.qs, u.q);
  }
};

struct Q3K {
  using Block = block_q3_K;
  static constexpr int kOffset = 4;
  static GroupScales scales(const Block& b) {
    GroupScales s;
    s.d = half_to_float(b.d);
    s.dmin = 0;
    s.scale = load_scales_q3_K(b.scales);
    s.min = _mm256_setzero_si256();
    return s;
  }
  static void unpack(const Block& b, Unpacked& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_2bit(b.qs, u.q);
    or_high_bits(load256(b.hmask), 2, u.q);
  }
};

struct Q4K {
  using Block = block_q4_K;
  static constexpr int kOffset = 0;
  static GroupScales scales(const Block& b) {
    GroupScales s;
    s.d = half_to_float(b.d);
    s.dmin = half_to_float(b.dmin);
    load_scales_mins_k4(b.scales, s);
    return s;
  }
  static void unpack(const Block& b, Unpacked& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_4bit(b.qs, u.q);
  }
};

struct Q5K {
  using Block = block_q5_K;
  static constexpr int kOffset = 0;
  static GroupScales scales(const Block& b) {
    GroupScales s;
    s.d = half_to_float(b.d);
    s.dmin = half_to_float(b.dmin);
    load_scales_mins_k4(b.scales, s);
    return s;
  }
  static void unpack(const Block& b, Unpacked& u) {
    static_cast<GroupScales&>(u) = scales(b);
    unpack_4bit(b.qs, u.q);
    or_high_bits(load256(b.qh), 4, u.q);
  }
};

// Q6_K: element 128c + 32k + l: low nibble in ql[64c + 32(k & 1) + l] (nibble k >> 1), bits 4-5 from
// qh[32c + l] bits 2k..2k+1.
struct Q6K {
  using Block = block_q6_K;
  static constexpr int kOffset = 32;
  static GroupScales scales(const Block& b) {
    GroupScales s;
    s.d = half_to_float(b.d);
    s.dmin = 0;
    s.scale = _mm256_cvtepi8_epi16(load128(b.scales));
    s.min = _mm256_setzero_si256();
    return s;
  }
  static void unpack(const Block& b, Unpacked& u) {
    static_cast<GroupScales&>(u) = scales(b);
    const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
    #pragma GCC unroll 2
    for (int c = 0; c < 2; ++c) {
      const __m256i l0 = load256(b.ql + 64 * c), l1 = load256(b.ql + 64 * c + 32);
      const __m256i h = load256(b.qh + 32 * c);
      // Shifts are 16-bit wide; the 0x30 mask keeps only bits that came from the same byte.
      u.q[4 * c + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
      u.q[4 * c + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
      u.q[4 * c + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m30));
      u.q[4 * c + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
    }
  }
};

}  // namespace
}  // namespace amusd::kernels::kquant
