// Block layouts of the quantized types, byte-compatible with GGUF files.
// d = scale, m = min, qs = packed quants, qh = high bits. All f16 fields are IEEE half bits.
#pragma once

#include <cstdint>

#include "core/fp16.h"

namespace amusd {

constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;
constexpr int QK_K = 256;       // super-block size of the K-quants
constexpr int K_SCALE_SIZE = 12;

struct block_q4_0 { f16_t d; uint8_t qs[QK4_0 / 2]; };                              // x = (q - 8) * d
struct block_q4_1 { f16_t d; f16_t m; uint8_t qs[QK4_1 / 2]; };                     // x = q * d + m
struct block_q5_0 { f16_t d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; };               // x = (q - 16) * d
struct block_q5_1 { f16_t d; f16_t m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; };      // x = q * d + m
struct block_q8_0 { f16_t d; int8_t qs[QK8_0]; };                                   // x = q * d
struct block_q8_1 { f16_t d; f16_t s; int8_t qs[QK8_1]; };                          // s = d * sum(qs)

struct block_q2_K { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; f16_t d; f16_t dmin; };
struct block_q3_K { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; f16_t d; };
struct block_q4_K { f16_t d; f16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; };
struct block_q5_K { f16_t d; f16_t dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct block_q6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; f16_t d; };
struct block_q8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };          // bsums: sums of 16 quants

static_assert(sizeof(block_q4_0) == 18);
static_assert(sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84);
static_assert(sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144);
static_assert(sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210);
static_assert(sizeof(block_q8_K) == 292);

}  // namespace amusd
