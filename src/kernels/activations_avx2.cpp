// AVX2 softmax and SwiGLU (compiled with AVX2 flags; selected at run time). See activations_impl.h.
#include <immintrin.h>

#include "kernels/activations.h"
#include "kernels/activations_impl.h"

namespace amusd::kernels::activation_detail {

namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int64_t W = 8;
  static V set1(float x) { return _mm256_set1_ps(x); }
  // Lanes i < n (n <= 8) as a mask for the masked loads and stores, which do not touch the other lanes' memory.
  static __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_or(const float* p, int n, float fill) {
    if (n >= 8) return _mm256_loadu_ps(p);
    const __m256i m = lanes(n);
    return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store(float* p, V v, int n) {
    if (n >= 8) return _mm256_storeu_ps(p, v);
    _mm256_maskstore_ps(p, lanes(n), v);
  }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static float hmax(V v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  // ops.h's sum16 of the 16 floats lo, hi: (i, i + 8), then (i, i + 4), then (0 + 2) + (1 + 3).
  static float sum16(V lo, V hi) {
    const V h8 = add(lo, hi);
    const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
  }
  // 2^k for integral k in [-126, 127], exactly.
  static V pow2(V k) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23));
  }

  // ops.cpp's exp_poly, 8 lanes at a time. ldexp(j, n) for |n| <= 192: j * 2^n1 is exact (a normal number), the
  // second factor 2^(n - n1) rounds once, like ldexp.
  static V exp_poly(V x) {
    const V shift = set1(0x1.8p23f);
    const V n = sub(_mm256_fmadd_ps(x, set1(0x1.715476p+0f), shift), shift);
    const V b = _mm256_fnmadd_ps(n, set1(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, set1(0x1.62e4p-1f), x));
    const V u = mul(b, b);
    const V j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(set1(0x1.0e4020p-7f), b, set1(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(set1(0x1.555e66p-3f), b, set1(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(set1(0x1.ffffecp-1f), b, set1(1.0f)));
    const V in_range = _mm256_cmp_ps(_mm256_andnot_ps(set1(-0.0f), n), set1(192), _CMP_LE_OQ);
    const V n_safe = _mm256_and_ps(n, in_range);  // 0 where out of range (or NaN), so pow2 stays defined
    const V n1 = _mm256_round_ps(mul(n_safe, set1(0.5f)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    const V scaled = mul(mul(j, pow2(n1)), pow2(sub(n_safe, n1)));
    const V flushed = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ), set1(INFINITY));
    const V nan = _mm256_cmp_ps(n, n, _CMP_UNORD_Q);  // NaN in, NaN out (through j)
    return _mm256_blendv_ps(_mm256_blendv_ps(flushed, scaled, in_range), j, nan);
  }
};

}  // namespace

void softmax_avx2(float* x, int64_t n) { softmax_simd<Avx2>(x, n); }
void silu_mul_avx2(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len) {
  silu_mul_simd<Avx2>(gate, up, out, begin, end, row_len);
}

}  // namespace amusd::kernels::activation_detail
