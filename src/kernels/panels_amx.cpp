// AMX kernel over Q8_0 / Q4_0 panels (see panels.h): per panel block, one tile multiply gives the exact block sums of
// up to 16 tokens x the panel's 16 rows; the scales are then applied per token in the same order as the VNNI kernel.
//
// Tiles: A = tokens x 32 activation quants (loaded straight from the Q8_0 rows: stride = the row size), B = the
// panel block's weights as signed bytes (8 x 64; Q8_0: its quant part as stored, Q4_0: unpacked to the stack),
// C = tokens x 16 int32. Two sets (0-2, 3-5) alternate between consecutive blocks so that one block's tile work
// overlaps other blocks' float work.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/amx_tiles.h"
#include "kernels/panels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels::panel_detail {

namespace {

constexpr int kMaxTokens = 16;
constexpr int kPrefetchBlocks = 8;  // software prefetch distance, in panel blocks
constexpr int64_t kLag = 2;         // blocks between storing a block's sums and scaling them
constexpr int64_t kRing = 2 * kLag;
static_assert(kLag % 2 == 0, "the kernel works on pairs of blocks");

template <int M>
[[gnu::always_inline]] inline void apply_scales(const int32_t (*c)[16], const float* d, const uint8_t* pb,
                                                __m512 acc[M]) {
  const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb)));
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c[i])), _mm512_set1_ps(d[i]));
    acc[i] = _mm512_fmadd_ps(f, wd, acc[i]);
  }
}

constexpr size_t kTileBytes = 512;  // a B tile: 8 rows of 64 bytes

// Q4_0: a panel block's B tile (512 signed bytes) unpacked from its nibbles, into a small ring on the stack that stays
// in L1 (a whole unpacked panel plus 16 activation rows does not). A tile load right after the vector stores that wrote
// its bytes stalls for a long time, so tiles are unpacked kUnpackAhead blocks before they are loaded. Several token
// tiles over one panel unpack it again each: measured no slower than sharing one unpacked panel (prefill).
constexpr int64_t kUnpackAhead = 4;
constexpr int64_t kUnpackRing = 8;

[[gnu::always_inline]] inline void unpack_q4_0_block(const uint8_t* pb, uint8_t* tile) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), eight = _mm512_set1_epi8(8);
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const __m512i v = _mm512_loadu_si512(pb + 32 + 64 * k);
    _mm512_store_si512(tile + 64 * k, _mm512_sub_epi8(_mm512_and_si512(v, low4), eight));
    _mm512_store_si512(tile + 64 * (k + 4), _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), low4), eight));
  }
}

// One panel (its 16 outputs) for M tokens; the tiles must be configured for M tokens. Software-pipelined: block b's
// sums are stored in iteration b and scaled kLag blocks later, when the tile stores have reached the cache (loads
// right behind a tile store wait for it; L2-resident microbenchmark, 16 tokens: -19%).
template <DType W, int M>
void panel_amx(int64_t n_blocks, const uint8_t* panel, const uint8_t* x, size_t x_row_bytes, const float* d,
               int64_t d_stride, float* y, int64_t y_stride) {
  constexpr int64_t kBlockBytes = int64_t(PanelType<W>::kBlockBytes);
  alignas(64) int32_t c[kRing][16][16];                                       // block b's sums in c[b % kRing]
  alignas(64) uint8_t ring[W == DType::Q4_0 ? kUnpackRing : 1][kTileBytes];  // Q4_0: block b's tile in b % kUnpackRing
  const uint8_t* qs = x + offsetof(block_q8_0, qs);
  auto act = [&](int64_t b) { return qs + b * int64_t(sizeof(block_q8_0)); };
  auto b_tile = [&](int64_t b) -> const uint8_t* {
    if constexpr (W == DType::Q8_0) return panel + b * kBlockBytes + 32;
    else return ring[b % kUnpackRing];
  };
  auto unpack = [&](int64_t b) {
    if constexpr (W == DType::Q4_0)
      if (b < n_blocks) unpack_q4_0_block(panel + b * kBlockBytes, ring[b % kUnpackRing]);
  };
  __m512 acc[M];
  for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
  auto apply = [&](int64_t b) { apply_scales<M>(c[b % kRing], d + b * d_stride, panel + b * kBlockBytes, acc); };
  for (int64_t u = 0; u < kUnpackAhead; ++u) unpack(u);
  int64_t b = 0;
  for (; b + 2 <= n_blocks; b += 2) {
    const uint8_t* pb = panel + b * kBlockBytes;
    for (int64_t off = 0; off < 2 * kBlockBytes; off += 64)
      _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetchBlocks * kBlockBytes + off), _MM_HINT_T0);
    unpack(b + kUnpackAhead);
    unpack(b + kUnpackAhead + 1);
    block_sums_set0(act(b), x_row_bytes, b_tile(b), &c[b % kRing][0][0]);
    block_sums_set1(act(b + 1), x_row_bytes, b_tile(b + 1), &c[(b + 1) % kRing][0][0]);
    if (b >= kLag) {
      apply(b - kLag);
      apply(b - kLag + 1);
    }
  }
  if (b < n_blocks) block_sums_set0(act(b), x_row_bytes, b_tile(b), &c[b % kRing][0][0]);
  for (int64_t r = std::max<int64_t>(0, b - kLag); r < n_blocks; ++r) apply(r);
  for (int i = 0; i < M; ++i) _mm512_storeu_ps(y + i * y_stride, acc[i]);
}

template <DType W, size_t... I>
constexpr auto make_fns(std::index_sequence<I...>) {
  return std::array{&panel_amx<W, int(I) + 1>...};
}
template <DType W> constexpr auto kFns = make_fns<W>(std::make_index_sequence<kMaxTokens>());

}  // namespace

template <DType W>
void gemm_amx(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
              float* y, int64_t y_stride) {
  const int64_t n_blocks = n / 32;
  float* d = scratch<float, 1>(size_t(n_tok * n_blocks));  // [block][token] activation scales
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_blocks; ++b)
      d[size_t(b * n_tok + t)] = _cvtsh_ss(reinterpret_cast<const block_q8_0*>(x + t * x_row_bytes)[b].d);
  // Token tiles of <= 16 (balanced). Panels are the outer loop: a panel is read from memory once and stays in cache
  // for the other token tiles.
  const int64_t n_tiles = (n_tok + kMaxTokens - 1) / kMaxTokens;
  const int64_t panel_bytes = n_blocks * int64_t(PanelType<W>::kBlockBytes);
  int configured = 0;  // the token count the tiles are configured for
  for (int64_t p = 0; p < n_panels; ++p) {
    const uint8_t* panel = w + p * panel_bytes;
    for (int64_t tile = 0, t0 = 0; tile < n_tiles; ++tile) {
      const int m = int((n_tok - t0 + (n_tiles - tile) - 1) / (n_tiles - tile));
      if (m != configured) configure(configured = m);
      kFns<W>[size_t(m - 1)](n_blocks, panel, x + t0 * x_row_bytes, x_row_bytes, d + t0, n_tok,
                             y + t0 * y_stride + p * kPanelRows, y_stride);
      t0 += m;
    }
  }
  _tile_release();
}

template void gemm_amx<DType::Q8_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                    int64_t);
template void gemm_amx<DType::Q4_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                    int64_t);

}  // namespace amusd::kernels::panel_detail
