// VNNI kernel over Q6_K panels (see panels.h), for every batch size.
//
// Lane i of every register is row i of the panel. Per pair of sub-blocks that share their ql bytes (low and high
// nibble) the 6-bit quants of the 16 rows are rebuilt in 8 + 8 registers (one dword of each row), and per token four
// independent vpdpbusd chains, each started at -32 * the group's bsum, leave the exact sums of four groups of 16,
// which vpmulld scales into the int32 sum. The float update per super-block and token is the scalar one's, operation
// by operation (no fma; CMakeLists.txt).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "kernels/panels.h"
#include "kernels/quant_blocks.h"
#include "kernels/vnni_broadcast.h"

namespace amusd::kernels::panel_detail {

namespace {

using P = PanelType<DType::Q6_K>;
constexpr int kMaxTokens = 8;       // tokens per pass over a panel
constexpr int kPrefetchBlocks = 2;  // software prefetch distance, in panel super-blocks
constexpr int kLinesPerBlock = int((P::kBlockBytes + 63) / 64);

// Per token and super-block: the activation scale and, per group, -32 * its quant sum.
struct Act {
  const uint8_t* x;
  size_t row_bytes;
  int64_t n_blocks;
  float* d;        // [token][block]
  int32_t* start;  // [token][block][16]
  const int8_t* qs(int64_t t, int64_t b) const {
    return reinterpret_cast<const block_q8_K*>(x + t * row_bytes)[b].qs;
  }
};

template <int NT>
[[gnu::always_inline]] inline void panel_q6k(const uint8_t* w, const Act& a, int64_t t0, float* y, int64_t y_stride) {
  const int64_t n_blocks = a.n_blocks;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  __m512 acc[NT];
  for (int i = 0; i < NT; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const uint8_t* pb = w + b * int64_t(P::kBlockBytes);
    __m512i sumi[NT];
    for (int i = 0; i < NT; ++i) sumi[i] = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int pair = 0; pair < 4; ++pair) {
      // sub-blocks (c, k) and (c, k + 2) of elements 128c + 32k ..: ql chunk 2c + k (low / high nibble), qh chunk c
      // (bits 2k / 2k + 4)
      const int c = pair / 2, k = pair % 2;
      for (int l = 14 * pair; l < std::min(14 * pair + 14, kLinesPerBlock); ++l)
        _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetchBlocks * P::kBlockBytes + 64 * l), _MM_HINT_T0);
      __m512i lo[8], hi[8];
#pragma GCC unroll 8
      for (int m = 0; m < 8; ++m) {
        const __m512i ql = _mm512_loadu_si512(pb + P::kQlAt + 512 * (2 * c + k) + 64 * m);
        const __m512i qh = _mm512_loadu_si512(pb + P::kQhAt + 512 * c + 64 * m);
        const __m512i h_lo = _mm512_and_si512(k == 0 ? _mm512_slli_epi16(qh, 4) : _mm512_slli_epi16(qh, 2), bits45);
        const __m512i h_hi = _mm512_and_si512(k == 0 ? qh : _mm512_srli_epi16(qh, 2), bits45);
        lo[m] = _mm512_or_si512(_mm512_and_si512(ql, low4), h_lo);
        hi[m] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4), h_hi);
      }
      const int g_lo = 2 * (4 * c + k), g_hi = g_lo + 4;  // first groups of the two sub-blocks
      auto scale = [&](int g) {
        return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(pb + P::kScalesAt + 16 * g)));
      };
      const __m512i sc[4] = {scale(g_lo), scale(g_lo + 1), scale(g_hi), scale(g_hi + 1)};
#pragma GCC unroll 4
      for (int i = 0; i < NT; ++i) {
        const int8_t* x = a.qs(t0 + i, b) + 128 * c + 32 * k;
        const int32_t* start = &a.start[size_t(((t0 + i) * n_blocks + b) * 16)];
        __m512i s[4] = {_mm512_set1_epi32(start[g_lo]), _mm512_set1_epi32(start[g_lo + 1]),
                        _mm512_set1_epi32(start[g_hi]), _mm512_set1_epi32(start[g_hi + 1])};
        [&]<int... M>(std::integer_sequence<int, M...>) {
          ((s[M / 4] = dpbusd_at<4 * M>(s[M / 4], lo[M], x),
            s[2 + M / 4] = dpbusd_at<64 + 4 * M>(s[2 + M / 4], hi[M], x)), ...);
        }(std::make_integer_sequence<int, 8>());
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) sumi[i] = _mm512_add_epi32(sumi[i], _mm512_mullo_epi32(s[q], sc[q]));
      }
    }
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb)));
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int i = 0; i < NT; ++i) {
      const __m512 da = _mm512_set1_ps(a.d[size_t((t0 + i) * n_blocks + b)]);
      const __m512 v = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, da), _mm512_cvtepi32_ps(sumi[i])),
                                     _mm512_mul_ps(_mm512_mul_ps(zero, da), zero));  // the reference's - dmin term
      acc[i] = _mm512_add_ps(acc[i], v);
    }
  }
  for (int i = 0; i < NT; ++i) _mm512_storeu_ps(y + (t0 + i) * y_stride, acc[i]);
}

}  // namespace

template <>
void gemm_avx512<DType::Q6_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                              int64_t n_tok, float* y, int64_t y_stride) {
  const int64_t n_blocks = n / QK_K;
  Act a{x, x_row_bytes, n_blocks, scratch<float, 0>(size_t(n_tok * n_blocks)),
        scratch<int32_t, 0>(size_t(16 * n_tok * n_blocks))};
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto& blk = reinterpret_cast<const block_q8_K*>(x + t * x_row_bytes)[b];
      const size_t at = size_t(t * n_blocks + b);
      a.d[at] = blk.d;
      for (int g = 0; g < 16; ++g) a.start[16 * at + size_t(g)] = -32 * blk.bsums[g];
    }
  const int64_t panel_bytes = n_blocks * int64_t(P::kBlockBytes);
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxTokens) {
      float* out = y + p * kPanelRows;
      const uint8_t* panel = w + p * panel_bytes;
      switch (std::min<int64_t>(kMaxTokens, n_tok - t0)) {
        case 1: panel_q6k<1>(panel, a, t0, out, y_stride); break;
        case 2: panel_q6k<2>(panel, a, t0, out, y_stride); break;
        case 3: panel_q6k<3>(panel, a, t0, out, y_stride); break;
        case 4: panel_q6k<4>(panel, a, t0, out, y_stride); break;
        case 5: panel_q6k<5>(panel, a, t0, out, y_stride); break;
        case 6: panel_q6k<6>(panel, a, t0, out, y_stride); break;
        case 7: panel_q6k<7>(panel, a, t0, out, y_stride); break;
        default: panel_q6k<8>(panel, a, t0, out, y_stride); break;
      }
    }
}

}  // namespace amusd::kernels::panel_detail
