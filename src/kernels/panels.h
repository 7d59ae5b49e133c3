// Q8_0 and Q4_0 weights repacked into panels of 16 rows, for Intel AMX (batched verification and prefill) and a VNNI
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
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace amusd::kernels {

constexpr int64_t kPanelRows = 16;

// True when this CPU has AMX-INT8 and the OS granted this process the tile state (asked once).
bool amx_usable();

// Types with a panel form: Q8_0 and Q4_0.
bool has_panels(DType t);

// Writes the panel form of n_rows (% 16 == 0) rows of type t (Q8_0 / Q4_0) and n elements (row r at
// src + r * row_bytes) to dst (n_rows * row_bytes bytes).
void repack_panels(DType t, const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst);

// y[t * y_stride + r] = dot(row r, x row t) for the n_panels * 16 rows at w (panel form) and n_tok Q8_0 activation
// rows of n elements at x + t * x_row_bytes. The kernel for an ISA picks AMX for batches where it is usable.
using PanelGemmFn = void (*)(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                             int64_t n_tok, float* y, int64_t y_stride);
PanelGemmFn panel_gemm_kernel(DType t, Isa isa);

namespace panel_detail {
// The kernels per weight type W (instantiated for Q8_0 and Q4_0). gemm_amx requires amx_usable().
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
}  // namespace panel_detail

}  // namespace amusd::kernels
