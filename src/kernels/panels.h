// Q8_0, Q4_0 and Q4_K weights repacked into panels of 16 rows, for Intel AMX (batched verification, prefill) and a VNNI
// kernel over the same layout (decoding). Both compute every output exactly the same way, so a token's result does not
// depend on the batch it is in (the batch-invariance rule of kernels.h):
//   isum_b = sum of the 32 products of block b's integer weights (Q4_0: nibble - 8) and the activation's int8 quants
//            (exact int32, whatever instruction computes it)
//   acc    = fma(float(isum_b) * d_act_b, d_w_b, acc)      for b = 0, 1, ... in order, acc starting at 0
//
// Panel layout: a matrix of n_rows (a multiple of 16) rows of n elements (n_blocks = n / 32 blocks per row) is
// n_rows / 16 panels one after another; panel p holds rows 16p .. 16p + 15 as n_blocks panel blocks, each taking
// exactly the bytes of its 16 row blocks (544 for Q8_0, 288 for Q4_0):
//   bytes   0 .. 31: the 16 rows' f16 scales d, row i at 2i
//   bytes  32 .. : the quant bytes ("qs": 32 for Q8_0, 16 for Q4_0) in "VNNI order": dword k of row i's qs at
//                  32 + 64k + 4i. For Q8_0 that is an AMX B tile of 8 rows x 64 bytes (K = 32, N = 16); for Q4_0 the
//                  low nibbles of dword k are quants 4k .. 4k+3 and the high ones 16 + 4k .., unpacked to such a tile.
// Activations are ordinary Q8_0 rows (what the model's convert_input produces for both weight types).
//
// Q4_K panels (activations: Q8_K rows) follow the integer formula of kquant_kernels.h per super-block of 256:
//   sumi = sum over sub-blocks s of scale[s] * isum_s,   summ = sum over s of min[s] * (bsums[2s] + bsums[2s + 1])
//   acc += d * d_act * float(sumi) - dmin * d_act * float(summ)      (left to right, no fma: the row-major scalar
//                                                                    reference's bits)
// where isum_s is the exact int32 sum of sub-block s's 32 nibble x activation products. A panel super-block holds
// the 16 rows' 144 bytes each (2304):
//   bytes    0 ..   31: the rows' f16 d (row i at 2i);  32 .. 63: their f16 dmin
//   bytes   64 ..  255: the 12 packed scale bytes: dword w (bytes 4w .. 4w + 3) of row i at 64 + 64w + 4i
//   bytes  256 .. 2303: the nibbles, 32 bytes per row and chunk c (0..3; low nibbles = sub-block 2c, high = 2c + 1):
//                       dword k of row i's chunk c at 256 + 512c + 64k + 4i (VNNI order, as Q4_0)
//
// Q6_K panels (activations: Q8_K rows), the same way with 16 groups of 16 and offset 32, no mins:
//   sumi = sum over groups g of scale[g] * (isum_g - 32 * bsums[g]);   acc += d * d_act * float(sumi) - 0 * d_act * 0
// A panel super-block holds the 16 rows' 210 bytes each (3360):
//   bytes    0 ..   31: the rows' f16 d;   32 .. 287: the int8 scales, group g of row i at 32 + 16g + i
//   bytes  288 .. 2335: ql, 32 bytes per row and chunk j (0..3): dword m of row i's chunk j at 288 + 512j + 64m + 4i
//   bytes 2336 .. 3359: qh, likewise for its 2 chunks of 32 bytes: dword m of chunk c at 2336 + 512c + 64m + 4i
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace amusd::kernels {

constexpr int64_t kPanelRows = 16;

// True when this CPU has AMX-INT8 and the OS granted this process the tile state (asked once).
bool amx_usable();

// Types with a panel form: Q8_0, Q4_0, Q4_K and Q6_K.
bool has_panels(DType t);

// Writes the panel form of n_rows (% 16 == 0) rows of type t (has_panels) and n elements (row r at
// src + r * row_bytes) to dst (n_rows * row_bytes bytes).
void repack_panels(DType t, const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst);

// y[t * y_stride + r] = dot(row r, x row t) for the n_panels * 16 rows at w (panel form) and n_tok Q8_0 activation
// rows (Q8_K for Q4_K) of n elements at x + t * x_row_bytes. The kernel for an ISA picks AMX for batches where it is
// usable.
using PanelGemmFn = void (*)(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                             int64_t n_tok, float* y, int64_t y_stride);
PanelGemmFn panel_gemm_kernel(DType t, Isa isa);

namespace panel_detail {
// The kernels per weight type W (Q8_0, Q4_0, Q4_K). gemm_amx requires amx_usable().
template <DType W> void gemm_scalar(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                    size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <DType W> void gemm_avx512(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                    size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <DType W> void gemm_amx(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                 size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);

// Per type: bytes of quants per row block, bytes of a panel block, the offset of the stored quants (Q4_0 nibbles
// are w + 8; Q8_0 quants are signed and the VNNI kernel flips them to w + 128), and the batch size from which the
// AMX kernel beats the VNNI one in a whole model (`amusd bench --verify-cost`, alternated runs: the VNNI kernel
// streams 2-8 panels at once and hides its compute behind memory, the AMX kernel reads one panel at a time; Q4_0's
// tiles must first be unpacked from nibbles, so AMX pays later).
// A thread's own buffer of at least n elements of T, kept from call to call (one per T and Tag): the kernels'
// per-call activation tables without an allocation per matrix product.
template <class T, int Tag>
T* scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

// An unaligned 4-byte load (the quant dwords the VNNI kernels broadcast).
inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

template <DType W> struct PanelType;
template <> struct PanelType<DType::Q8_0> {
  static constexpr int kQsBytes = 32, kOffset = 128;
  static constexpr size_t kBlockBytes = 32 + 16 * kQsBytes;
  static constexpr int64_t kAmxMinTokens = 5;
};
template <> struct PanelType<DType::Q4_0> {
  static constexpr int kQsBytes = 16, kOffset = 8;
  static constexpr size_t kBlockBytes = 32 + 16 * kQsBytes;
  static constexpr int64_t kAmxMinTokens = 8;
};
template <> struct PanelType<DType::Q4_K> {
  static constexpr size_t kBlockBytes = 16 * 144;
  static constexpr size_t kScalesAt = 64, kQsAt = 256;
  static constexpr int64_t kAmxMinTokens = 9;  // the VNNI kernel takes up to 8 tokens in one pass
};
template <> struct PanelType<DType::Q6_K> {
  static constexpr size_t kBlockBytes = 16 * 210;
  static constexpr size_t kScalesAt = 32, kQlAt = 288, kQhAt = 2336;
};
// The K-quants have their own code (super-blocks, integer scales), in panels.cpp, panels_q4k_avx512.cpp,
// panels_q4k_amx.cpp and panels_q6k_avx512.cpp.
template <> void gemm_scalar<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                          size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <> void gemm_avx512<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                          size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <> void gemm_amx<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                       size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <> void gemm_scalar<DType::Q6_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                          size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
template <> void gemm_avx512<DType::Q6_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x,
                                          size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride);
}  // namespace panel_detail

}  // namespace amusd::kernels
