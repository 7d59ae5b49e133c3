// AVX-512 kernels for F32, F16 and BF16 weights; see float_kernels.h.
//
// gemm: activations in F16 / BF16 are converted to F32 once per call (exact) into a stack scratch buffer; a tile
// of R weight rows x NT tokens then keeps R * NT accumulators in registers, converts each 16 weights once and
// applies them to all NT tokens, prefetching the same place of the next R rows (without: F16 1.1B decode 9.1-10.2
// tokens/s, with: 11.5-12.9, 2 threads). vec_dot of BF16 uses vdpbf16ps directly on the bf16 pairs.
//
// Only the explicit instantiations at the end have external linkage (see legacy_kernels_avx512.cpp for why).

// GCC 12 reports the _mm*_undefined_*() values inside its own intrinsics as uninitialized once they are inlined
// (GCC PR 105593); the warning is attributed to the caller, so it is silenced for the whole file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "kernels/float_kernels.h"

namespace amusd::kernels::floats::avx512 {

namespace {

// ================================================================================================
// Element access
// ================================================================================================

template <DType T> struct Elem;
template <> struct Elem<DType::F32> { using type = float; };
template <> struct Elem<DType::F16> { using type = uint16_t; };
template <> struct Elem<DType::BF16> { using type = uint16_t; };
template <DType T> using elem_t = typename Elem<T>::type;

inline __m512 bf16x16_to_f32(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// 16 consecutive elements at p, as floats.
template <DType T>
inline __m512 load16(const elem_t<T>* p) {
  if constexpr (T == DType::F32) return _mm512_loadu_ps(p);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
  if constexpr (T == DType::BF16) return bf16x16_to_f32(h);
}

// The first n (< 16) elements at p, as floats; the other lanes are zero.
template <DType T>
inline __m512 load16_partial(const elem_t<T>* p, int n) {
  const __mmask16 m = __mmask16((1u << n) - 1);
  if constexpr (T == DType::F32) return _mm512_maskz_loadu_ps(m, p);
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
  if constexpr (T == DType::BF16) return bf16x16_to_f32(h);
}

// One element, as a float.
template <DType T>
inline float load1(const elem_t<T>* p) {
  if constexpr (T == DType::F32) return *p;
  if constexpr (T == DType::F16) return _cvtsh_ss(*p);
  if constexpr (T == DType::BF16) {
    const uint32_t u = uint32_t(*p) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
}

// 16 floats rounded to T (nearest even; same bits as the scalar conversions of core/fp16.h except NaN payloads
// for F16, which the hardware keeps).
template <DType T>
inline void store16(const float* x, elem_t<T>* y) {
  const __m512 v = _mm512_loadu_ps(x);
  if constexpr (T == DType::F32) _mm512_storeu_ps(y, v);
  if constexpr (T == DType::F16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y),
                        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if constexpr (T == DType::BF16) {
    // Integer rounding exactly like f32_to_bf16: add 0x7fff + lsb, keep the top half; NaN -> quiet NaN.
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                 _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(64)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), _mm512_cvtepi32_epi16(r));
  }
}

inline float reduce(__m512 v) { return _mm512_reduce_add_ps(v); }

// ================================================================================================
// Horizontal sums of a block of 16 rows (same scheme as legacy_kernels_avx512.cpp)
// ================================================================================================

constexpr int kRowBlock = 16;

// Where row i of a block puts its accumulator for sum16 (the reduction tree's lane order; its own inverse).
constexpr int row_slot(int i) { return 4 * (i % 4) + i / 4; }

// Lane i of the result = sum of the 16 lanes of v[row_slot(i)].
[[gnu::always_inline]] inline __m512 sum16(const __m512 v[16]) {
  __m512 a[8], b[4];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k)
    a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m)
    b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xDD));
  const __m512 c0 = _mm512_add_ps(_mm512_unpacklo_ps(b[0], b[1]), _mm512_unpackhi_ps(b[0], b[1]));
  const __m512 c1 = _mm512_add_ps(_mm512_unpacklo_ps(b[2], b[3]), _mm512_unpackhi_ps(b[2], b[3]));
  const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(c0), _mm512_castps_pd(c1));
  const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(c0), _mm512_castps_pd(c1));
  return _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
}

// Writes (or adds, when accumulate) the first n lanes of v to y.
[[gnu::always_inline]] inline void store_sums(__m512 v, float* y, int n, bool accumulate) {
  const __mmask16 m = __mmask16((1u << n) - 1);
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, v);
}

// ================================================================================================
// gemm
// ================================================================================================

// A product of weight rows with F32 activations (the original ones for F32 weights, converted ones otherwise).
struct Tile {
  const uint8_t* w;    // weight row 0 (elements of type T)
  size_t w_row_bytes;
  int64_t n_rows;
  int64_t n;           // elements in this K chunk
  const float* x;      // token t at x + t * x_stride
  int64_t x_stride;
  float* y;            // y[t * y_stride + r]
  int64_t y_stride;
  bool accumulate;     // add to y (a later K chunk) instead of overwriting it
};

// Rows r0 .. r0 + R - 1 times NT tokens: one accumulator per row and token.
template <DType T, int R, int NT>
[[gnu::always_inline]] inline void block_dot(const Tile& t, int64_t r0, __m512 (&acc)[R][NT]) {
  const elem_t<T>* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const elem_t<T>*>(t.w + (r0 + r) * t.w_row_bytes);
#pragma GCC unroll 32
  for (int i = 0; i < R * NT; ++i) acc[i / NT][i % NT] = _mm512_setzero_ps();
  const size_t prefetch = R * t.w_row_bytes;  // the same place in the next R rows (8 rows ahead: no better)
  auto step = [&](int64_t k, auto load_w, auto load_x) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + k) + prefetch, _MM_HINT_T0);
      wv[r] = load_w(w[r] + k);
    }
#pragma GCC unroll 16
    for (int i = 0; i < NT; ++i) {
      const __m512 xv = load_x(t.x + i * t.x_stride + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][i] = _mm512_fmadd_ps(wv[r], xv, acc[r][i]);
    }
  };
  int64_t k = 0;
  for (; k + 16 <= t.n; k += 16)
    step(k, [](const elem_t<T>* p) { return load16<T>(p); }, [](const float* p) { return _mm512_loadu_ps(p); });
  if (k < t.n) {
    const int tail = int(t.n - k);
    step(k, [tail](const elem_t<T>* p) { return load16_partial<T>(p, tail); },
         [tail](const float* p) { return _mm512_maskz_loadu_ps(__mmask16((1u << tail) - 1), p); });
  }
}

constexpr int kMaxTile = 8;  // tokens per pass over a block of rows

template <DType T, int NT>
void gemm_tile(const Tile& t) {
  constexpr int R = NT <= 4 ? 4 : 2;  // at most 16 accumulators
  static_assert(kRowBlock % R == 0);
  __m512 sums[NT][kRowBlock];  // [token][row_slot(row in block)]: accumulators awaiting their reduction
  for (int64_t r0 = 0; r0 < t.n_rows; r0 += kRowBlock) {
    const int rows = t.n_rows - r0 < kRowBlock ? int(t.n_rows - r0) : kRowBlock;
    for (int i = 0; i < kRowBlock; i += R) {
      __m512 acc[R][NT];
      if (i + R <= rows) {
        block_dot<T, R, NT>(t, r0 + i, acc);
      } else {
        for (int r = 0; r < R; ++r) {
          __m512 one[1][NT];
          if (i + r < rows) block_dot<T, 1, NT>(t, r0 + i + r, one);
          for (int k = 0; k < NT; ++k) acc[r][k] = i + r < rows ? one[0][k] : _mm512_setzero_ps();
        }
      }
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < NT; ++k) sums[k][row_slot(i + r)] = acc[r][k];
    }
    for (int k = 0; k < NT; ++k) store_sums(sum16(sums[k]), t.y + k * t.y_stride + r0, rows, t.accumulate);
  }
}

template <DType T, size_t... I>
constexpr auto make_tile_fns(std::index_sequence<I...>) {
  return std::array<void (*)(const Tile&), sizeof...(I)>{&gemm_tile<T, int(I) + 1>...};
}
template <DType T> constexpr auto kTileFns = make_tile_fns<T>(std::make_index_sequence<kMaxTile>());

// F32 rows whose length is not a multiple of 16 are where the reference engine leaves its tiled F32 product (one
// accumulator per output over 16-wide steps, which gemm_tile follows) for its plain dot product: four accumulators
// over steps of 64, combined (0 + 2) + (1 + 3), then the leftover elements one by one in float. Following it keeps
// our logits within ~1e-4 of the reference on models with such rows (stories260K's 172-wide FFN).
float dot_f32_steps64(int64_t n, const float* w, const float* x) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t k = 0;
  for (; k + 64 <= n; k += 64)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(w + k + 16 * j), _mm512_loadu_ps(x + k + 16 * j), acc[j]);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3])));
  for (; k < n; ++k) sum = std::fma(w[k], x[k], sum);
  return sum;
}

void gemm_f32_ragged(int64_t n, const uint8_t* w, size_t w_row_bytes, int64_t n_rows, const uint8_t* x,
                     size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride) {
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < n_rows; ++r)
      y[t * y_stride + r] = dot_f32_steps64(n, reinterpret_cast<const float*>(w + r * w_row_bytes),
                                            reinterpret_cast<const float*>(x + t * x_row_bytes));
}

constexpr int64_t kScratchFloats = 16384;  // converted activations on the stack (64 KiB)

}  // namespace

// ================================================================================================
// Exported kernels
// ================================================================================================

template <DType T>
void to_float(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const elem_t<T>*>(vx);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, load16<T>(x + i));
  for (; i < n; ++i) y[i] = load1<T>(x + i);
}

template <DType T>
void from_float(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<elem_t<T>*>(vy);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store16<T>(x + i, y + i);
  if (i < n) {  // the tail through a padded buffer, so that it rounds exactly like the vector part
    alignas(64) float in[16] = {};
    alignas(64) elem_t<T> out[16];
    std::memcpy(in, x + i, size_t(n - i) * sizeof(float));
    store16<T>(in, out);
    std::memcpy(y + i, out, size_t(n - i) * sizeof(elem_t<T>));
  }
}

template <DType T>
float vec_dot(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const elem_t<T>*>(vw);
  const auto* x = static_cast<const elem_t<T>*>(vx);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  int64_t k = 0;
  if constexpr (T == DType::BF16) {  // 32 bf16 products per instruction
    for (; k + 32 <= n; k += 32) {
      const __m512bh a = (__m512bh)_mm512_loadu_si512(w + k), b = (__m512bh)_mm512_loadu_si512(x + k);
      acc[(k / 32) % 4] = _mm512_dpbf16_ps(acc[(k / 32) % 4], a, b);
    }
  }
  for (; k + 64 <= n; k += 64)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j] = _mm512_fmadd_ps(load16<T>(w + k + 16 * j), load16<T>(x + k + 16 * j), acc[j]);
  for (; k + 16 <= n; k += 16) acc[0] = _mm512_fmadd_ps(load16<T>(w + k), load16<T>(x + k), acc[0]);
  float sum = reduce(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  for (; k < n; ++k) sum += load1<T>(w + k) * load1<T>(x + k);
  return sum;
}

template <DType T>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  if (T == DType::F32 && n % 16 != 0)
    return gemm_f32_ragged(n, wb, w_row_bytes, n_rows, xb, x_row_bytes, n_tok, y, y_stride);
  const int64_t n_tiles = (n_tok + kMaxTile - 1) / kMaxTile;
  alignas(64) float scratch[T == DType::F32 ? 1 : kScratchFloats];
  for (int64_t tile = 0, t0 = 0; tile < n_tiles; ++tile) {
    const int64_t nt = (n_tok - t0 + (n_tiles - tile) - 1) / (n_tiles - tile);  // balanced tiles of <= kMaxTile
    if constexpr (T == DType::F32) {
      const Tile full{wb, w_row_bytes, n_rows, n, reinterpret_cast<const float*>(xb + t0 * x_row_bytes),
                      int64_t(x_row_bytes / sizeof(float)), y + t0 * y_stride, y_stride, false};
      kTileFns<T>[nt - 1](full);
    } else {
      // K chunks sized for the largest tile, so that a token's sums do not depend on the batch it is in.
      const int64_t chunk = (kScratchFloats / kMaxTile) / 16 * 16;
      for (int64_t k0 = 0; k0 < n || k0 == 0; k0 += chunk) {
        const int64_t len = n - k0 < chunk ? n - k0 : chunk;
        for (int64_t i = 0; i < nt; ++i)
          to_float<T>(xb + (t0 + i) * x_row_bytes + k0 * sizeof(elem_t<T>), scratch + i * len, len);
        const Tile part{wb + k0 * sizeof(elem_t<T>), w_row_bytes, n_rows, len, scratch, len,
                        y + t0 * y_stride, y_stride, k0 > 0};
        kTileFns<T>[nt - 1](part);
      }
    }
    t0 += nt;
  }
}

#define AMUSD_INSTANTIATE(T)                                                                                  \
  template void to_float<T>(const void*, float*, int64_t);                                                     \
  template void from_float<T>(const float*, void*, int64_t);                                                   \
  template float vec_dot<T>(int64_t, const void*, const void*);                                                \
  template void gemm<T>(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*, int64_t);
AMUSD_INSTANTIATE(DType::F32)
AMUSD_INSTANTIATE(DType::F16)
AMUSD_INSTANTIATE(DType::BF16)
#undef AMUSD_INSTANTIATE

}  // namespace amusd::kernels::floats::avx512
