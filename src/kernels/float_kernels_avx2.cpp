// AVX2 (+ FMA, F16C) kernels for F32, F16 and BF16 weights; see float_kernels.h.
//
// gemm: activations in F16 / BF16 are converted to F32 once per call (exact) into a stack scratch buffer; a tile
// of R weight rows x NT tokens then keeps R * NT accumulators in registers, converts each 8 weights once and
// applies them to all NT tokens, prefetching the same place of the next R rows (512 MiB F16 matrix x 1 token, one
// thread, 7 alternated runs: median 10.8 -> 11.6 GB/s).
//
// Only the explicit instantiations at the end have external linkage (see legacy_kernels_avx512.cpp for why).

// GCC 12 reports the _mm*_undefined_*() values inside its own intrinsics as uninitialized once they are inlined
// (GCC PR 105593); the warning is attributed to the caller, so it is silenced for the whole file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>
#include <cstring>
#include <utility>

#include "kernels/float_kernels.h"

namespace amusd::kernels::floats::avx2 {

namespace {

// ================================================================================================
// Element access
// ================================================================================================

template <DType T> struct Elem;
template <> struct Elem<DType::F32> { using type = float; };
template <> struct Elem<DType::F16> { using type = uint16_t; };
template <> struct Elem<DType::BF16> { using type = uint16_t; };
template <DType T> using elem_t = typename Elem<T>::type;

// 8 consecutive elements at p, as floats.
template <DType T>
inline __m256 load8(const elem_t<T>* p) {
  if constexpr (T == DType::F32) return _mm256_loadu_ps(p);
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (T == DType::F16) return _mm256_cvtph_ps(h);
  if constexpr (T == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
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

// 8 floats rounded to T (nearest even; same bits as core/fp16.h except NaN payloads for F16).
template <DType T>
inline void store8(const float* x, elem_t<T>* y) {
  const __m256 v = _mm256_loadu_ps(x);
  if constexpr (T == DType::F32) _mm256_storeu_ps(y, v);
  if constexpr (T == DType::F16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if constexpr (T == DType::BF16) {
    // Integer rounding exactly like f32_to_bf16: add 0x7fff + lsb, keep the top half; NaN -> quiet NaN.
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, bias), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);  // qwords 0, 2
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y), _mm256_castsi256_si128(packed));
  }
}

inline float reduce(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// ================================================================================================
// Horizontal sums of a block of 8 rows (same scheme as legacy_kernels_avx2.cpp)
// ================================================================================================

// Rows whose accumulators are reduced together: their 8 sums come out as one vector (6 vhaddps, 2 lane permutes
// and an add) instead of 8 separate horizontal reductions.
constexpr int kRowBlock = 8;

// Lane i of the result = sum of the 8 lanes of v[i].
[[gnu::always_inline]] inline __m256 sum8(const __m256 v[8]) {
  const __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);  // 128-bit halves of v[0..3], v[4..7]
  return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

// Writes (or adds, when accumulate) the first n lanes of v to y.
[[gnu::always_inline]] inline void store_sums(__m256 v, float* y, int n, bool accumulate) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  if (accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(y, mask));
  _mm256_maskstore_ps(y, mask, v);
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

// The first n (< 8) elements at p, as floats; the other lanes are zero.
template <DType T>
inline __m256 load8_partial(const elem_t<T>* p, int n) {
  alignas(32) elem_t<T> padded[8] = {};
  std::memcpy(padded, p, size_t(n) * sizeof(elem_t<T>));
  return load8<T>(padded);
}

// Rows r0 .. r0 + R - 1 times NT tokens: one accumulator per row and token.
template <DType T, int R, int NT>
[[gnu::always_inline]] inline void block_dot(const Tile& t, int64_t r0, __m256 (&acc)[R][NT]) {
  const elem_t<T>* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const elem_t<T>*>(t.w + (r0 + r) * t.w_row_bytes);
#pragma GCC unroll 16
  for (int i = 0; i < R * NT; ++i) acc[i / NT][i % NT] = _mm256_setzero_ps();
  const size_t prefetch = R * t.w_row_bytes;  // the same place in the next R rows
  auto step = [&](int64_t k, auto load_w, auto load_x) {
    __m256 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + k) + prefetch, _MM_HINT_T0);
      wv[r] = load_w(w[r] + k);
    }
#pragma GCC unroll 16
    for (int i = 0; i < NT; ++i) {
      const __m256 xv = load_x(t.x + i * t.x_stride + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][i] = _mm256_fmadd_ps(wv[r], xv, acc[r][i]);
    }
  };
  int64_t k = 0;
  for (; k + 8 <= t.n; k += 8)
    step(k, [](const elem_t<T>* p) { return load8<T>(p); }, [](const float* p) { return _mm256_loadu_ps(p); });
  if (k < t.n) {
    const int tail = int(t.n - k);
    step(k, [tail](const elem_t<T>* p) { return load8_partial<T>(p, tail); },
         [tail](const float* p) { return load8_partial<DType::F32>(p, tail); });
  }
}

constexpr int kMaxTile = 8;  // tokens per pass over a block of rows

template <DType T, int NT>
void gemm_tile(const Tile& t) {
  constexpr int R = NT <= 2 ? 4 : NT <= 4 ? 2 : 1;  // at most 8 accumulators (16 registers)
  static_assert(kRowBlock % R == 0);
  __m256 sums[NT][kRowBlock];  // [token][row in block]: accumulators awaiting their reduction
  for (int64_t r0 = 0; r0 < t.n_rows; r0 += kRowBlock) {
    const int rows = t.n_rows - r0 < kRowBlock ? int(t.n_rows - r0) : kRowBlock;
    for (int i = 0; i < kRowBlock; i += R) {
      __m256 acc[R][NT];
      if (i + R <= rows) {
        block_dot<T, R, NT>(t, r0 + i, acc);
      } else {
        for (int r = 0; r < R; ++r) {
          __m256 one[1][NT];
          if (i + r < rows) block_dot<T, 1, NT>(t, r0 + i + r, one);
          for (int k = 0; k < NT; ++k) acc[r][k] = i + r < rows ? one[0][k] : _mm256_setzero_ps();
        }
      }
      for (int r = 0; r < R; ++r)
        for (int k = 0; k < NT; ++k) sums[k][i + r] = acc[r][k];
    }
    for (int k = 0; k < NT; ++k) store_sums(sum8(sums[k]), t.y + k * t.y_stride + r0, rows, t.accumulate);
  }
}

template <DType T, size_t... I>
constexpr auto make_tile_fns(std::index_sequence<I...>) {
  return std::array<void (*)(const Tile&), sizeof...(I)>{&gemm_tile<T, int(I) + 1>...};
}
template <DType T> constexpr auto kTileFns = make_tile_fns<T>(std::make_index_sequence<kMaxTile>());

constexpr int64_t kScratchFloats = 16384;  // converted activations on the stack (64 KiB)

}  // namespace

// ================================================================================================
// Exported kernels
// ================================================================================================

template <DType T>
void to_float(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const elem_t<T>*>(vx);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load8<T>(x + i));
  for (; i < n; ++i) y[i] = load1<T>(x + i);
}

template <DType T>
void from_float(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<elem_t<T>*>(vy);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) store8<T>(x + i, y + i);
  if (i < n) {  // the tail through a padded buffer, so that it rounds exactly like the vector part
    alignas(32) float in[8] = {};
    alignas(32) elem_t<T> out[8];
    std::memcpy(in, x + i, size_t(n - i) * sizeof(float));
    store8<T>(in, out);
    std::memcpy(y + i, out, size_t(n - i) * sizeof(elem_t<T>));
  }
}

template <DType T>
float vec_dot(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const elem_t<T>*>(vw);
  const auto* x = static_cast<const elem_t<T>*>(vx);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t k = 0;
  for (; k + 32 <= n; k += 32)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_fmadd_ps(load8<T>(w + k + 8 * j), load8<T>(x + k + 8 * j), acc[j]);
  for (; k + 8 <= n; k += 8) acc[0] = _mm256_fmadd_ps(load8<T>(w + k), load8<T>(x + k), acc[0]);
  float sum = reduce(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; k < n; ++k) sum += load1<T>(w + k) * load1<T>(x + k);
  return sum;
}

template <DType T>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  const int64_t n_tiles = (n_tok + kMaxTile - 1) / kMaxTile;
  alignas(32) float scratch[T == DType::F32 ? 1 : kScratchFloats];
  for (int64_t tile = 0, t0 = 0; tile < n_tiles; ++tile) {
    const int64_t nt = (n_tok - t0 + (n_tiles - tile) - 1) / (n_tiles - tile);  // balanced tiles of <= kMaxTile
    if constexpr (T == DType::F32) {
      const Tile full{wb, w_row_bytes, n_rows, n, reinterpret_cast<const float*>(xb + t0 * x_row_bytes),
                      int64_t(x_row_bytes / sizeof(float)), y + t0 * y_stride, y_stride, false};
      kTileFns<T>[nt - 1](full);
    } else {
      // K chunks sized for the largest tile, so that a token's sums do not depend on the batch it is in.
      const int64_t chunk = (kScratchFloats / kMaxTile) / 8 * 8;
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

}  // namespace amusd::kernels::floats::avx2
