// AVX-512 softmax and SwiGLU (compiled with AVX-512 flags; selected at run time). See activations_impl.h.
#include <immintrin.h>

#include "kernels/activations.h"
#include "kernels/activations_impl.h"

namespace amusd::kernels::activation_detail {

namespace {

struct Avx512 {
  using V = __m512;
  static constexpr int64_t W = 16;
  static __mmask16 mask(int n) { return __mmask16(n >= 16 ? 0xFFFF : (1u << n) - 1); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load_or(const float* p, int n, float fill) { return _mm512_mask_loadu_ps(set1(fill), mask(n), p); }
  static void store(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static float sum16(V v, V) { return _mm512_reduce_add_ps(v); }  // the same tree as ops.h's sum16

  // ops.cpp's exp_poly, 16 lanes at a time; scalef is ldexp with a single rounding.
  static V exp_poly(V x) {
    const V shift = set1(0x1.8p23f);
    const V n = sub(_mm512_fmadd_ps(x, set1(0x1.715476p+0f), shift), shift);
    const V b = _mm512_fnmadd_ps(n, set1(0x1.7f7d1cp-20f), _mm512_fnmadd_ps(n, set1(0x1.62e4p-1f), x));
    const V u = mul(b, b);
    const V j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(set1(0x1.0e4020p-7f), b, set1(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(set1(0x1.555e66p-3f), b, set1(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(set1(0x1.ffffecp-1f), b, set1(1.0f)));
    const V scaled = _mm512_scalef_ps(j, n);
    const __mmask16 out_of_range = _mm512_cmp_ps_mask(_mm512_abs_ps(n), set1(192), _CMP_GT_OQ);
    const V flushed = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ), set1(INFINITY),
                                           _mm512_setzero_ps());
    return _mm512_mask_blend_ps(out_of_range, scaled, flushed);
  }
};

}  // namespace

void softmax_avx512(float* x, int64_t n) { softmax_simd<Avx512>(x, n); }
void silu_mul_avx512(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len) {
  silu_mul_simd<Avx512>(gate, up, out, begin, end, row_len);
}

}  // namespace amusd::kernels::activation_detail
