// AVX-512 attention (compiled with AVX-512 flags; selected at run time).
#include <immintrin.h>

#include "kernels/activations.h"
#include "kernels/attention_impl.h"

namespace amusd::kernels::attention_detail {

namespace {

struct Avx512 {
  using V = __m512;
  static constexpr int64_t W = 16;
  static __mmask16 mask(int n) { return __mmask16(n >= 16 ? 0xFFFF : (1u << n) - 1); }
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static V load(const uint16_t* p, int n) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask(n), p)); }
  static void store(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  struct Wide {
    __m512d lo, hi;
  };
  static Wide wide_zero() { return {_mm512_setzero_pd(), _mm512_setzero_pd()}; }
  static Wide add_wide(Wide a, V v) {
    return {_mm512_add_pd(a.lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v))),
            _mm512_add_pd(a.hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))))};
  }
  static Wide widen(V v) {
    return {_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))};
  }
  static Wide fma_wide(Wide a, Wide b, Wide c) {
    return {_mm512_fmadd_pd(a.lo, b.lo, c.lo), _mm512_fmadd_pd(a.hi, b.hi, c.hi)};
  }
  static double reduce_wide(Wide a) {
    const __m512d d = _mm512_add_pd(a.lo, a.hi);
    const __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(d), _mm512_extractf64x4_pd(d, 1));
    const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
  }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float reduce(V v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static void softmax(float* x, int64_t n) { activation_detail::softmax_avx512(x, n); }
  static V round_f16(V v) {
    return _mm512_cvtph_ps(_mm512_mask_cvtps_ph(_mm256_setzero_si256(), 0xFFFF, v, _MM_FROUND_TO_NEAREST_INT));
  }
};

}  // namespace

void attend_avx512(const AttentionArgs& a) { attend_dispatch<Avx512>(a); }

}  // namespace amusd::kernels::attention_detail
