// Q8_0 weights repacked into panels of 16 rows, for Intel AMX (batched verification and prefill) and a VNNI kernel
// over the same layout (decoding). Both compute every output exactly the same way, so a token's result does not depend
// on the batch it is in (the batch-invariance rule of kernels.h):
//   isum_b = sum of the 32 int8 products of block b (exact int32, whatever instruction computes it)
//   acc    = fma(float(isum_b) * d_act_b, d_w_b, acc)      for b = 0, 1, ... in order, acc starting at 0
//
// Panel layout: a matrix of n_rows (a multiple of 16) rows of n elements (n_blocks = n / 32 blocks per row) is
// n_rows / 16 panels one after another; panel p holds rows 16p .. 16p + 15 as n_blocks panel blocks of 544 bytes
// (= 16 Q8_0 blocks, so a panel takes exactly the bytes of its 16 rows):
//   bytes   0 ..  31: the 16 rows' f16 scales d, row i at 2i
//   bytes  32 .. 543: the quants, "VNNI order": dword k (quants 4k .. 4k+3) of row i at 32 + 64k + 4i
// The quant part is an AMX B tile of 8 rows x 64 bytes (K = 32, N = 16) and, dword k, one 512-bit VNNI operand.
// Activations are ordinary Q8_0 rows (what the model's convert_input produces for Q8_0 weights).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernels.h"

namespace amusd::kernels {

constexpr int64_t kPanelRows = 16;
constexpr size_t kPanelBlockBytes = 544;

// True when this CPU has AMX-INT8 and the OS granted this process the tile state (asked once).
bool amx_usable();

// Writes the panel form of n_rows (% 16 == 0) Q8_0 rows of n elements (row r at src + r * row_bytes) to dst
// (n_rows * row_bytes bytes).
void repack_q8_0_panels(const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst);

// y[t * y_stride + r] = dot(row r, x row t) for the n_panels * 16 rows at w (panel form) and n_tok Q8_0 activation
// rows of n elements at x + t * x_row_bytes. The kernel for an ISA picks AMX for batches where it is usable.
using PanelGemmFn = void (*)(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                             int64_t n_tok, float* y, int64_t y_stride);
PanelGemmFn panel_gemm_kernel(Isa isa);

namespace panel_detail {
void gemm_scalar(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
                 float* y, int64_t y_stride);
void gemm_avx512(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
                 float* y, int64_t y_stride);
// AMX for tokens [0, n_tok); requires amx_usable().
void gemm_amx(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
              float* y, int64_t y_stride);
}  // namespace panel_detail

}  // namespace amusd::kernels
