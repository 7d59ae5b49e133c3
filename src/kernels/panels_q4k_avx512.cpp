// VNNI kernel over Q4_K panels (see panels.h); hands batches to the AMX kernel where AMX is usable.
//
// Lane i of every register is row i of the panel. Per super-block: the 16 rows' packed scales and mins are decoded
// together (the bit operations of unpack_scales_mins_k4 on 16 dwords at once); per sub-block, its 8 nibble dwords
// are one register each and, per token, 8 vpdpbusd with the broadcast activation dwords leave the rows' exact sums,
// which vpmulld scales into the int32 sum; the mins' sum takes 4 vpdpwssd over (min, min) x (bsum, bsum) pairs. The
// float update per super-block and token is the scalar one's, operation by operation (no fma).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/panels_q4k.h"

namespace amusd::kernels::panel_detail {

namespace {

constexpr int kMaxTokens = 8;       // tokens per pass over a panel
constexpr int kPrefetchBlocks = 2;  // software prefetch distance, in panel super-blocks
static_assert(P::kBlockBytes == 36 * 64, "9 prefetched lines per chunk");

// NP panels x NT tokens, all super-blocks.
template <int NP, int NT>
[[gnu::always_inline]] inline void panels_q4k(const uint8_t* w, const Act& a, int64_t t0, float* y,
                                              int64_t y_stride) {
  const int64_t n_blocks = a.n_blocks;
  const int64_t panel_bytes = n_blocks * int64_t(P::kBlockBytes);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NP][NT];
  for (int p = 0; p < NP; ++p)
    for (int i = 0; i < NT; ++i) acc[p][i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
#pragma GCC unroll 1
    for (int p = 0; p < NP; ++p) {
      const uint8_t* pb = w + p * panel_bytes + b * int64_t(P::kBlockBytes);
      const Scales sc = decode_scales(pb);
      __m512i sumi[NT];
      for (int i = 0; i < NT; ++i) sumi[i] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) {  // sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)
        // the super-block kPrefetchBlocks ahead, a few lines per chunk (a burst of 36 stalled on full fill buffers)
        for (int l = 9 * c; l < 9 * c + 9; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetchBlocks * P::kBlockBytes + 64 * l), _MM_HINT_T0);
        const uint8_t* qs = pb + P::kQsAt + 512 * c;
        __m512i lo[8], hi[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) {
          const __m512i v = _mm512_loadu_si512(qs + 64 * k);
          lo[k] = _mm512_and_si512(v, low4);
          hi[k] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
        const __m512i scale_lo = scale_of(c < 2 ? sc.sc03 : sc.sc47, 2 * c % 4);
        const __m512i scale_hi = scale_of(c < 2 ? sc.sc03 : sc.sc47, 2 * c % 4 + 1);
#pragma GCC unroll 4
        for (int i = 0; i < NT; ++i) {
          // four independent vpdpbusd chains (one chain of 8 waited on its latency)
          const int8_t* x = a.qs(t0 + i, b) + 64 * c;
          __m512i s_lo[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
          __m512i s_hi[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) {
            s_lo[k % 2] = _mm512_dpbusd_epi32(s_lo[k % 2], lo[k], _mm512_set1_epi32(load_i32(x + 4 * k)));
            s_hi[k % 2] = _mm512_dpbusd_epi32(s_hi[k % 2], hi[k], _mm512_set1_epi32(load_i32(x + 32 + 4 * k)));
          }
          sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(_mm512_add_epi32(s_lo[0], s_lo[1]), scale_lo));
          sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(_mm512_add_epi32(s_hi[0], s_hi[1]), scale_hi));
        }
      }
      const __m512 d = row_d(pb), dmin = row_dmin(pb);
#pragma GCC unroll 4
      for (int i = 0; i < NT; ++i) {
        const size_t at = size_t((t0 + i) * n_blocks + b);
        acc[p][i] = add_block(acc[p][i], sumi[i], sc, d, dmin, &a.bsum2[4 * at], a.d[at]);
      }
    }
  }
  for (int p = 0; p < NP; ++p)
    for (int i = 0; i < NT; ++i) _mm512_storeu_ps(y + (t0 + i) * y_stride + p * kPanelRows, acc[p][i]);
}

// All tokens times NP panels: the panels are read from memory for the first token tile and from cache for the rest.
template <int NP>
void panel_group(const uint8_t* w, const Act& a, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxTokens) {
    switch (std::min<int64_t>(kMaxTokens, n_tok - t0)) {
      case 1: panels_q4k<NP, 1>(w, a, t0, y, y_stride); break;
      case 2: panels_q4k<NP, 2>(w, a, t0, y, y_stride); break;
      case 3: panels_q4k<NP, 3>(w, a, t0, y, y_stride); break;
      case 4: panels_q4k<NP, 4>(w, a, t0, y, y_stride); break;
      case 5: panels_q4k<NP, 5>(w, a, t0, y, y_stride); break;
      case 6: panels_q4k<NP, 6>(w, a, t0, y, y_stride); break;
      case 7: panels_q4k<NP, 7>(w, a, t0, y, y_stride); break;
      default: panels_q4k<NP, 8>(w, a, t0, y, y_stride); break;
    }
  }
}

}  // namespace

template <>
void gemm_avx512<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                              int64_t n_tok, float* y, int64_t y_stride) {
  if (n_tok >= P::kAmxMinTokens && amx_usable())
    return gemm_amx<DType::Q4_K>(n, w, n_panels, x, x_row_bytes, n_tok, y, y_stride);
  const int64_t n_blocks = n / QK_K;
  const Act a = prepare_act(x, x_row_bytes, n_tok, n_blocks);
  // Several panels at a time for small batches, each its own memory stream (as the Q4_0 / Q8_0 decode kernel).
  const int64_t panel_bytes = n_blocks * int64_t(P::kBlockBytes);
  int64_t p = 0;
  auto groups_of = [&]<int NP>() {
    for (; p + NP <= n_panels; p += NP) panel_group<NP>(w + p * panel_bytes, a, n_tok, y + p * kPanelRows, y_stride);
  };
  if (n_tok <= 2) groups_of.template operator()<8>();
  if (n_tok <= 4) groups_of.template operator()<4>();
  groups_of.template operator()<2>();
  for (; p < n_panels; ++p) panel_group<1>(w + p * panel_bytes, a, n_tok, y + p * kPanelRows, y_stride);
}

}  // namespace amusd::kernels::panel_detail
