// VNNI kernel over Q8_0 / Q4_0 panels (see panels.h); hands batches to the AMX kernel where AMX is usable.
//
// Per panel block and token: the 8 quant dwords of the 16 rows are one register each, unsigned for vpdpbusd (Q8_0
// flipped to w + 128, Q4_0 nibbles as stored, w + 8; the activation side carries -offset * its block's quant sum),
// the token's 8 activation dwords are broadcast, and 8 vpdpbusd leave the 16 rows' exact block sums in the 16 lanes;
// no horizontal sums anywhere.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/panels.h"
#include "kernels/quant_blocks.h"
#include "kernels/vnni_broadcast.h"

namespace amusd::kernels::panel_detail {

namespace {

constexpr int kMaxVnniTokens = 8;     // tokens per pass over a panel
constexpr int kPrefetchBlocks = 6;    // software prefetch distance, in panel blocks

struct Act {
  const uint8_t* x;
  size_t row_bytes;
  float* d;       // [token][block] activation scales
  int32_t* corr;  // [token][block] -offset * sum of the block's quants
};

// The 8 unsigned weight registers of a panel block: register k = dword k (quants 4k .. 4k+3) of the 16 rows.
template <DType W>
[[gnu::always_inline]] inline void load_weights(const uint8_t* pb, __m512i q[8]) {
  if constexpr (W == DType::Q8_0) {
    const __m512i flip = _mm512_set1_epi8(char(0x80));
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) q[k] = _mm512_xor_si512(_mm512_loadu_si512(pb + 32 + 64 * k), flip);
  } else {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_loadu_si512(pb + 32 + 64 * k);
      q[k] = _mm512_and_si512(v, low4);
      q[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
    }
  }
}

// s + the products of the 8 unsigned weight registers q and the 32 signed activation bytes at x, dword k broadcast
// against q[k], the broadcasts in the instructions' memory operands (vnni_broadcast.h; at 5 tokens GCC's own code
// spilled 40 broadcast registers and the accumulators).
[[gnu::always_inline]] inline __m512i dpbusd_block(__m512i s, const __m512i q[8], const uint8_t* x) {
  [&]<int... K>(std::integer_sequence<int, K...>) { ((s = dpbusd_at<4 * K>(s, q[K], x)), ...); }(
      std::make_integer_sequence<int, 8>());
  return s;
}

// NP panels at a time (each its own memory stream: one sequential stream per core leaves bandwidth unused) x NT
// tokens.
template <DType W, int NP, int NT>
[[gnu::always_inline]] inline void panels_vnni(int64_t n_blocks, const uint8_t* w, const Act& a, int64_t t0,
                                               float* y, int64_t y_stride) {
  constexpr int64_t kBlockBytes = int64_t(PanelType<W>::kBlockBytes);
  const int64_t panel_bytes = n_blocks * kBlockBytes;
  __m512 acc[NP][NT];
  for (int p = 0; p < NP; ++p)
    for (int i = 0; i < NT; ++i) acc[p][i] = _mm512_setzero_ps();
  for (int64_t b = 0; b < n_blocks; ++b) {
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const uint8_t* pb = w + p * panel_bytes + b * kBlockBytes;
      for (int64_t off = 0; off < kBlockBytes; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(pb + kPrefetchBlocks * kBlockBytes + off), _MM_HINT_T0);
      __m512i q[8];
      load_weights<W>(pb, q);
      const __m512 wd = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb)));
#pragma GCC unroll 8
      for (int i = 0; i < NT; ++i) {
        const int64_t t = t0 + i;
        const uint8_t* qs = a.x + t * a.row_bytes + b * int64_t(sizeof(block_q8_0)) + offsetof(block_q8_0, qs);
        __m512i s = _mm512_set1_epi32(a.corr[size_t(t * n_blocks + b)]);
        if constexpr (NT >= 3) {
          s = dpbusd_block(s, q, qs);
        } else {  // few tokens: GCC's own code is as good (measured), and free to schedule
#pragma GCC unroll 8
          for (int k = 0; k < 8; ++k) s = _mm512_dpbusd_epi32(s, q[k], _mm512_set1_epi32(load_i32(qs + 4 * k)));
        }
        const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(a.d[size_t(t * n_blocks + b)]));
        acc[p][i] = _mm512_fmadd_ps(f, wd, acc[p][i]);
      }
    }
  }
  for (int p = 0; p < NP; ++p)
    for (int i = 0; i < NT; ++i) _mm512_storeu_ps(y + (t0 + i) * y_stride + p * kPanelRows, acc[p][i]);
}

// All tokens times NP panels: the panels' blocks are read from memory for the first token tile and from cache for
// the others.
template <DType W, int NP>
void panel_group(int64_t n_blocks, const uint8_t* w, const Act& a, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t t0 = 0; t0 < n_tok; t0 += kMaxVnniTokens) {
    switch (std::min<int64_t>(kMaxVnniTokens, n_tok - t0)) {
      case 1: panels_vnni<W, NP, 1>(n_blocks, w, a, t0, y, y_stride); break;
      case 2: panels_vnni<W, NP, 2>(n_blocks, w, a, t0, y, y_stride); break;
      case 3: panels_vnni<W, NP, 3>(n_blocks, w, a, t0, y, y_stride); break;
      case 4: panels_vnni<W, NP, 4>(n_blocks, w, a, t0, y, y_stride); break;
      case 5: panels_vnni<W, NP, 5>(n_blocks, w, a, t0, y, y_stride); break;
      case 6: panels_vnni<W, NP, 6>(n_blocks, w, a, t0, y, y_stride); break;
      case 7: panels_vnni<W, NP, 7>(n_blocks, w, a, t0, y, y_stride); break;
      default: panels_vnni<W, NP, 8>(n_blocks, w, a, t0, y, y_stride); break;
    }
  }
}

}  // namespace

template <DType W>
void gemm_avx512(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
                 float* y, int64_t y_stride) {
  if (n_tok >= PanelType<W>::kAmxMinTokens && amx_usable())
    return gemm_amx<W>(n, w, n_panels, x, x_row_bytes, n_tok, y, y_stride);
  const int64_t n_blocks = n / 32;
  Act a{x, x_row_bytes, scratch<float, 0>(size_t(n_tok * n_blocks)), scratch<int32_t, 0>(size_t(n_tok * n_blocks))};
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto* blk = reinterpret_cast<const block_q8_0*>(x + t * x_row_bytes) + b;
      a.d[size_t(t * n_blocks + b)] = _cvtsh_ss(blk->d);
      const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones,
                                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs)));
      const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
      const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
      const int32_t sum = _mm_cvtsi128_si32(_mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xB1)));
      a.corr[size_t(t * n_blocks + b)] = -PanelType<W>::kOffset * sum;
    }
  // Several panels at a time, each its own memory stream: this machine's read bandwidth grows with streams per core
  // up to about 8 (amusd bench --roofline), and a kernel that reads one stream adds its compute time to the memory
  // time instead of hiding it. The more tokens, the fewer panels' accumulators fit the registers.
  const int64_t panel_bytes = n_blocks * int64_t(PanelType<W>::kBlockBytes);
  int64_t p = 0;
  auto groups_of = [&]<int NP>() {
    for (; p + NP <= n_panels; p += NP)
      panel_group<W, NP>(n_blocks, w + p * panel_bytes, a, n_tok, y + p * kPanelRows, y_stride);
  };
  if (n_tok <= 2) groups_of.template operator()<8>();
  if (n_tok <= 4) groups_of.template operator()<4>();
  groups_of.template operator()<2>();
  for (; p < n_panels; ++p) panel_group<W, 1>(n_blocks, w + p * panel_bytes, a, n_tok, y + p * kPanelRows, y_stride);
}

template void gemm_avx512<DType::Q8_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                       int64_t);
template void gemm_avx512<DType::Q4_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                       int64_t);

}  // namespace amusd::kernels::panel_detail
