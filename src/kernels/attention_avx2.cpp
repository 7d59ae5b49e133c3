// AVX2 + F16C attention (compiled with AVX2 flags; selected at run time).
#include <immintrin.h>

#include <cstring>

#include "kernels/activations.h"
#include "kernels/attention_impl.h"

namespace amusd::kernels::attention_detail {

namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int64_t W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p, int n) {
    if (n >= 8) return _mm256_loadu_ps(p);
    alignas(32) float buf[8] = {};
    std::memcpy(buf, p, size_t(n) * 4);
    return _mm256_load_ps(buf);
  }
  static V load(const uint16_t* p, int n) {
    if (n >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    alignas(16) uint16_t buf[8] = {};
    std::memcpy(buf, p, size_t(n) * 2);
    return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
  }
  static void store(float* p, V v, int n) {
    if (n >= 8) return _mm256_storeu_ps(p, v);
    alignas(32) float buf[8];
    _mm256_store_ps(buf, v);
    std::memcpy(p, buf, size_t(n) * 4);
  }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  struct Wide {
    __m256d lo, hi;
  };
  static Wide wide_zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static Wide add_wide(Wide a, V v) {
    return {_mm256_add_pd(a.lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v))),
            _mm256_add_pd(a.hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)))};
  }
  static Wide widen(V v) {
    return {_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
  }
  static Wide fma_wide(Wide a, Wide b, Wide c) {
    return {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
  }
  static double reduce_wide(Wide a) {
    const __m256d d = _mm256_add_pd(a.lo, a.hi);
    const __m128d q = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
    return _mm_cvtsd_f64(_mm_add_sd(q, _mm_unpackhi_pd(q, q)));
  }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static void softmax(float* x, int64_t n) { activation_detail::softmax_avx2(x, n); }
  static V round_f16(V v) { return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)); }
};

}  // namespace

void attend_avx2(const AttentionArgs& a) { attend_dispatch<Avx2>(a); }

}  // namespace amusd::kernels::attention_detail
