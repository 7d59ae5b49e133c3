// IEEE half and bfloat16 conversions (portable; the kernels use F16C / AVX-512 where they can).
#pragma once

#include <cstdint>
#include <cstring>

namespace amusd {

using f16_t = uint16_t;   // IEEE 754 binary16 bits
using bf16_t = uint16_t;  // bfloat16 bits (upper half of a binary32)

inline float bits_to_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t f32_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline float f16_to_f32(f16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0) return bits_to_f32(sign);
    // subnormal: normalise
    int e = -1;
    do { mant <<= 1; ++e; } while ((mant & 0x400) == 0);
    mant &= 0x3ff;
    return bits_to_f32(sign | uint32_t(127 - 15 - e) << 23 | mant << 13);
  }
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | mant << 13);  // inf / nan
  return bits_to_f32(sign | (exp + 127 - 15) << 23 | mant << 13);
}

// Round to nearest even, like the hardware conversion (vcvtps2ph with rounding mode 0).
inline f16_t f32_to_f16(float f) {
  const uint32_t x = f32_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t absx = x & 0x7fffffff;
  if (absx > 0x7f800000) return f16_t(sign | 0x7e00);             // nan
  if (absx >= 0x477ff000) return f16_t(sign | 0x7c00);            // overflow -> inf
  if (absx < 0x38800000) {                                        // subnormal or zero in half
    if (absx < 0x33000000) return f16_t(sign);                    // rounds to zero
    const uint32_t e = absx >> 23;
    const uint32_t m = (absx & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;                               // 14..24
    uint32_t half = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return f16_t(sign | half);
  }
  uint32_t h = ((absx >> 13) - (112u << 10));
  const uint32_t rem = absx & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return f16_t(sign | h);
}

inline float bf16_to_f32(bf16_t h) { return bits_to_f32(uint32_t(h) << 16); }

// Round to nearest even; nan stays nan.
inline bf16_t f32_to_bf16(float f) {
  const uint32_t x = f32_to_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return bf16_t((x >> 16) | 64);
  return bf16_t((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

}  // namespace amusd
