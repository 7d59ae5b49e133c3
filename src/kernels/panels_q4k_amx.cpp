// AMX kernel over Q4_K panels (see panels.h), for batches: per sub-block of 32, one tile multiply gives the exact sums
// of up to 16 tokens x the panel's 16 rows (A: the tokens' 32 activation quants straight from the Q8_K rows; B: the
// sub-block's nibbles unpacked to signed bytes on the stack, a super-block ahead). Then, per token, vpmulld with the
// rows' scales into the int32 sum and the float update of the VNNI kernel: the same bits for every batch size.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>
#include <utility>

#include "kernels/amx_tiles.h"
#include "kernels/panels_q4k.h"

namespace amusd::kernels::panel_detail {

namespace {

constexpr int kMaxTokens = 16;
constexpr size_t kTileBytes = 512;  // a B tile: 8 rows of 64 bytes

// Super-block pb's 8 B tiles (sub-block s at tiles[s]): dword k of the 16 rows, low nibbles for even sub-blocks.
[[gnu::always_inline]] inline void unpack_block(const uint8_t* pb, uint8_t (*tiles)[kTileBytes]) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c)
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) {
      const __m512i v = _mm512_loadu_si512(pb + P::kQsAt + 512 * c + 64 * k);
      _mm512_store_si512(tiles[2 * c] + 64 * k, _mm512_and_si512(v, low4));
      _mm512_store_si512(tiles[2 * c + 1] + 64 * k, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
    }
}

// One panel for M tokens from t0; the tiles must be configured for M tokens.
template <int M>
void panel_q4k_amx(const uint8_t* panel, const Act& a, int64_t t0, float* y, int64_t y_stride) {
  const int64_t n_blocks = a.n_blocks;
  alignas(64) uint8_t tiles[2][8][kTileBytes];  // super-block b's B tiles in tiles[b % 2]
  alignas(64) int32_t c[8][16][16];             // its sums per sub-block
  alignas(64) float acc[M][16] = {};
  unpack_block(panel, tiles[0]);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* pb = panel + b * int64_t(P::kBlockBytes);
    if (b + 1 < n_blocks) unpack_block(pb + P::kBlockBytes, tiles[(b + 1) % 2]);
    const uint8_t* xq = reinterpret_cast<const uint8_t*>(a.qs(t0, b));
#pragma GCC unroll 4
    for (int s = 0; s < 8; s += 2) {
      block_sums_set0(xq + 32 * s, a.row_bytes, tiles[b % 2][s], &c[s][0][0]);
      block_sums_set1(xq + 32 * (s + 1), a.row_bytes, tiles[b % 2][s + 1], &c[s + 1][0][0]);
    }
    const Scales sc = decode_scales(pb);
    __m512i scale[8];
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) scale[s] = scale_of(s < 4 ? sc.sc03 : sc.sc47, s % 4);
    const __m512 d = row_d(pb), dmin = row_dmin(pb);
    for (int i = 0; i < M; ++i) {
      __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s)
        sumi = _mm512_add_epi32(sumi, _mm512_mullo_epi32(_mm512_load_si512(c[s][i]), scale[s]));
      const size_t at = size_t((t0 + i) * n_blocks + b);
      _mm512_store_ps(acc[i], add_block(_mm512_load_ps(acc[i]), sumi, sc, d, dmin, &a.bsum2[4 * at], a.d[at]));
    }
  }
  for (int i = 0; i < M; ++i) _mm512_storeu_ps(y + (t0 + i) * y_stride, _mm512_load_ps(acc[i]));
}

template <size_t... I>
constexpr auto make_fns(std::index_sequence<I...>) {
  return std::array{&panel_q4k_amx<int(I) + 1>...};
}
constexpr auto kFns = make_fns(std::make_index_sequence<kMaxTokens>());

}  // namespace

template <>
void gemm_amx<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                           int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t n_blocks = n / QK_K;
  const Act a = prepare_act(x, x_row_bytes, n_tok, n_blocks);
  // Token tiles of <= 16 (balanced); panels outermost, so a panel comes from memory once.
  const int64_t n_tiles = (n_tok + kMaxTokens - 1) / kMaxTokens;
  const int64_t panel_bytes = n_blocks * int64_t(P::kBlockBytes);
  int configured = 0;
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t tile = 0, t0 = 0; tile < n_tiles; ++tile) {
      const int m = int((n_tok - t0 + (n_tiles - tile) - 1) / (n_tiles - tile));
      if (m != configured) configure(configured = m);
      kFns[size_t(m - 1)](w + p * panel_bytes, a, t0, y + p * kPanelRows, y_stride);
      t0 += m;
    }
  _tile_release();
}

}  // namespace amusd::kernels::panel_detail
