// K-quant kernels (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K weights; Q8_K activations): declarations shared between
// kquant_kernels.cpp (scalar reference + registration), kquant_kernels_avx2.cpp and kquant_kernels_avx512.cpp.
//
// Every K-quant super-block holds QK_K = 256 weights in 16 groups of 16 (Q4_K / Q5_K: 8 sub-blocks of 32, i.e. two
// groups sharing a scale). All of them decode to the same shape, which the scalar and the SIMD kernels share:
//
//   w[e] = d * scale[g] * (q[e] - offset) - dmin * min[g]        g = e / 16
//
//   type   q bits  offset  scale            min              d, dmin
//   Q2_K   2       0       4-bit unsigned   4-bit unsigned   f16, f16
//   Q3_K   3       4       6-bit, -32..31   -                f16, 0
//   Q4_K   4       0       6-bit unsigned   6-bit unsigned   f16, f16
//   Q5_K   5       0       6-bit unsigned   6-bit unsigned   f16, f16
//   Q6_K   6       32      int8             -                f16, 0
//
// Dot product with a Q8_K block (x[e] = dx * qx[e], bsums[g] = sum of qx over group g), all sums in integers:
//   dot = d  * dx * sum_g scale[g] * (sum_{e in g} q[e] * qx[e] - offset * bsums[g])
//       - dmin * dx * sum_g min[g] * bsums[g]
//
// Alignment contract for all kernels: weight rows start on a 2-byte boundary, Q8_K rows on a 4-byte boundary (the
// block structs hold f16 / float fields); GGUF tensor data and amusd's buffers satisfy this.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels::kquant {

// The scalar reference kernels and the registration are in kquant_kernels.cpp; everything is reached through the
// kernel table (kernels.h).

// ---- AVX2 kernels (kquant_kernels_avx2.cpp; call only when the CPU has AVX2 + FMA + F16C) ---------------------
namespace avx2 {
void to_float_q2_K(const void* x, float* y, int64_t n);
void to_float_q3_K(const void* x, float* y, int64_t n);
void to_float_q4_K(const void* x, float* y, int64_t n);
void to_float_q5_K(const void* x, float* y, int64_t n);
void to_float_q6_K(const void* x, float* y, int64_t n);
void to_float_q8_K(const void* x, float* y, int64_t n);
void quantize_q8_K(const float* x, void* y, int64_t n);
float vec_dot_q2_K(int64_t n, const void* w, const void* x);
float vec_dot_q3_K(int64_t n, const void* w, const void* x);
float vec_dot_q4_K(int64_t n, const void* w, const void* x);
float vec_dot_q5_K(int64_t n, const void* w, const void* x);
float vec_dot_q6_K(int64_t n, const void* w, const void* x);
void gemm_q2_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q3_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q4_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q5_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q6_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx2

// ---- AVX-512 kernels (kquant_kernels_avx512.cpp; F/BW/VL/DQ/VNNI) ---------------------------------------------
// Only the products are specialised; dequantization and the Q8_K quantizer stay AVX2.
namespace avx512 {
float vec_dot_q2_K(int64_t n, const void* w, const void* x);
float vec_dot_q3_K(int64_t n, const void* w, const void* x);
float vec_dot_q4_K(int64_t n, const void* w, const void* x);
float vec_dot_q5_K(int64_t n, const void* w, const void* x);
float vec_dot_q6_K(int64_t n, const void* w, const void* x);
void gemm_q2_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q3_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q4_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q5_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
void gemm_q6_K(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
               int64_t n_tok, float* y, int64_t y_stride);
}  // namespace avx512

// ---- packed-scale helpers shared by all three files ---------------------------------------------------------
// Internal linkage on purpose: each file compiles its own copy with its own ISA flags, so the linker can never
// hand the baseline code a copy that the compiler vectorised with AVX-512.
namespace {

inline uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Q4_K / Q5_K: 12 bytes -> 8 six-bit scales (out[0..7]) and 8 six-bit mins (out[8..15]).
// Bytes 0-3: scale 0-3 in bits 0-5, bits 4-5 of scale 4-7 in bits 6-7.
// Bytes 4-7: min 0-3 in bits 0-5, bits 4-5 of min 4-7 in bits 6-7.
// Bytes 8-11: bits 0-3 of scale 4-7 in the low nibble, bits 0-3 of min 4-7 in the high nibble.
inline void unpack_scales_mins_k4(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
  store_u32(out + 0, a0 & kLow6);
  store_u32(out + 4, (a2 & kLow4) | ((a0 >> 6) & kLow2) << 4);
  store_u32(out + 8, a1 & kLow6);
  store_u32(out + 12, ((a2 >> 4) & kLow4) | ((a1 >> 6) & kLow2) << 4);
}

// Q3_K: 12 bytes -> 16 six-bit scales biased by 32 (0..63; the scale is the value - 32).
// Bytes 0-7: bits 0-3 of scale j in the low nibble of byte j (j < 8) or the high nibble of byte j - 8 (j >= 8).
// Bytes 8-11: bits 4-5 of scale j in bits 2*(j/4)..2*(j/4)+1 of byte 8 + j%4.
inline void unpack_scales_q3_K(const uint8_t* packed, uint8_t out[16]) {
  constexpr uint32_t kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  const uint32_t a0 = load_u32(packed), a1 = load_u32(packed + 4), a2 = load_u32(packed + 8);
  store_u32(out + 0, (a0 & kLow4) | ((a2 >> 0) & kLow2) << 4);
  store_u32(out + 4, (a1 & kLow4) | ((a2 >> 2) & kLow2) << 4);
  store_u32(out + 8, ((a0 >> 4) & kLow4) | ((a2 >> 4) & kLow2) << 4);
  store_u32(out + 12, ((a1 >> 4) & kLow4) | ((a2 >> 6) & kLow2) << 4);
}

// The fast kernels prefetch the weights kPrefetchBytes ahead of the super-block they read: rows are read one after
// another, and the hardware prefetcher alone left a decode step waiting on memory (Q4_K 1.1B on AVX-512, 2 threads:
// 16-19 tokens/s without, 24-38 with 4-8 KiB).
constexpr size_t kPrefetchBytes = 8192;
template <class Block>
inline void prefetch_ahead(const Block* b) {
  const char* ahead = reinterpret_cast<const char*>(b) + kPrefetchBytes;
  for (size_t off = 0; off < sizeof(Block); off += 64) __builtin_prefetch(ahead + off);
}

// ---- the loop order of every fast gemm ------------------------------------------------------------------------
// Visits y (n_tok x n_rows, y[t * y_stride + r]) in blocks of kRowBlock rows; within a block, token tiles of up to
// MaxTile tokens, each applied to every row of the block: tile(r, t0, nt, out) computes out[0..nt) = the dot
// products of weight row r with tokens t0 .. t0 + nt - 1. With n_tok <= MaxTile every weight row is read once;
// with more tokens a row block (a few KiB) is re-read from cache, never from memory.
template <int MaxTile, class Tile>
void for_each_tile(int64_t n_rows, int64_t n_tok, float* y, int64_t y_stride, Tile&& tile) {
  constexpr int64_t kRowBlock = 16;
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
    const int64_t r1 = std::min(n_rows, r0 + kRowBlock);
    for (int64_t t0 = 0; t0 < n_tok; t0 += MaxTile) {
      const int nt = int(std::min<int64_t>(MaxTile, n_tok - t0));
      for (int64_t r = r0; r < r1; ++r) {
        float out[MaxTile];
        tile(r, t0, nt, out);
        for (int t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = out[t];
      }
    }
  }
}

}  // namespace
}  // namespace amusd::kernels::kquant
