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
#include <utility>

#include "kernels/panels_q4k.h"
#include "kernels/vnni_broadcast.h"

namespace amusd::kernels::panel_detail {

namespace {

constexpr int kMaxTokens = 8;       // tokens per pass over a panel
constexpr int kPrefetchBlocks = 2;  // software prefetch distance, in panel super-blocks
static_assert(P::kBlockBytes == 36 * 64, "9 prefetched lines per chunk");

// One panel x NT tokens, all super-blocks. One panel at a time: reading 2, 4 or 8 panels at once (as the Q4_0 / Q8_0
// decode kernel does) made a 1.1B model's decode slower (4 alternated runs: 30-35 vs 34-41 tokens/s).
template <int NT>
[[gnu::always_inline]] inline void panel_q4k(const uint8_t* w, const Act& a, int64_t t0, float* y, int64_t y_stride) {
  const int64_t n_blocks = a.n_blocks;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 acc[NT];
  for (int i = 0; i < NT; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* pb = w + b * int64_t(P::kBlockBytes);
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
        [&]<int... K>(std::integer_sequence<int, K...>) {
          ((s_lo[K % 2] = dpbusd_at<4 * K>(s_lo[K % 2], lo[K], x),
            s_hi[K % 2] = dpbusd_at<32 + 4 * K>(s_hi[K % 2], hi[K], x)), ...);
        }(std::make_integer_sequence<int, 8>());
        sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(_mm512_add_epi32(s_lo[0], s_lo[1]), scale_lo));
        sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(_mm512_add_epi32(s_hi[0], s_hi[1]), scale_hi));
      }
    }
    const __m512 d = row_d(pb), dmin = row_dmin(pb);
#pragma GCC unroll 4
    for (int i = 0; i < NT; ++i) {
      const size_t at = size_t((t0 + i) * n_blocks + b);
      acc[i] = add_block(acc[i], sumi[i], sc, d, dmin, &a.bsum2[4 * at], a.d[at]);
    }
  }
  for (int i = 0; i < NT; ++i) _mm512_storeu_ps(y + (t0 + i) * y_stride, acc[i]);
}

// All tokens times one panel: the panel is read from memory for the first token tile and from cache for the rest.
void panel_all_tokens(const uint8_t* w, const Act& a, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxTokens) {
    switch (std::min<int64_t>(kMaxTokens, n_tok - t0)) {
      case 1: panel_q4k<1>(w, a, t0, y, y_stride); break;
      case 2: panel_q4k<2>(w, a, t0, y, y_stride); break;
      case 3: panel_q4k<3>(w, a, t0, y, y_stride); break;
      case 4: panel_q4k<4>(w, a, t0, y, y_stride); break;
      case 5: panel_q4k<5>(w, a, t0, y, y_stride); break;
      case 6: panel_q4k<6>(w, a, t0, y, y_stride); break;
      case 7: panel_q4k<7>(w, a, t0, y, y_stride); break;
      default: panel_q4k<8>(w, a, t0, y, y_stride); break;
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
  const int64_t panel_bytes = n_blocks * int64_t(P::kBlockBytes);
  for (int64_t p = 0; p < n_panels; ++p) panel_all_tokens(w + p * panel_bytes, a, n_tok, y + p * kPanelRows, y_stride);
}

}  // namespace amusd::kernels::panel_detail
