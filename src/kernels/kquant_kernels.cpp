// K-quants: scalar reference kernels (the ground truth of the fast ones), the quantizers, and the registration of
// every ISA's kernels. Compiled for baseline x86-64: it only takes the addresses of the AVX2 / AVX-512 functions.
//
// The quantizers follow the reference engine's reference algorithms (a weighted least-squares search for each
// sub-block's scale, then one super-block scale for the sub-block scales) so that files written by
// `amusd quantize` are as good as the reference engine's; see kquant_kernels.h for the block semantics.
#include "kernels/kquant_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace amusd::kernels {
namespace kquant {
namespace {

constexpr int kGroups = QK_K / 16;        // 16-element groups per super-block
constexpr float kGroupMaxEps = 1e-15f;    // a group whose max |x| is below this quantizes to zeros

// ================================================================================================================
// Decoding: one super-block -> the common shape of kquant_kernels.h
// ================================================================================================================

struct BlockParts {
  uint8_t q[QK_K];         // unsigned quants in element order
  int16_t scale[kGroups];  // per 16-element group
  int16_t min[kGroups];    // per group; 0 for the offset types (Q3_K, Q6_K)
  int offset = 0;          // w = d * scale * (q - offset) - dmin * min
  float d = 0, dmin = 0;
};

// Q2_K: qs[32 * c + l] holds elements 128c + 32j + l in bits 2j..2j+1 (j = 0..3).
// scales[g]: low nibble = scale, high nibble = min.
void decode(const block_q2_K& b, BlockParts& p) {
  p.d = f16_to_f32(b.d);
  p.dmin = f16_to_f32(b.dmin);
  p.offset = 0;
  for (int g = 0; g < kGroups; ++g) {
    p.scale[g] = b.scales[g] & 0xF;
    p.min[g] = b.scales[g] >> 4;
  }
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 128, j = (e % 128) / 32, l = e % 32;
    p.q[e] = (b.qs[32 * c + l] >> (2 * j)) & 3;
  }
}

// Q3_K: low 2 bits as in Q2_K; the third bit of element 32k + l (k = 0..7) is bit k of hmask[l].
void decode(const block_q3_K& b, BlockParts& p) {
  p.d = f16_to_f32(b.d);
  p.dmin = 0;
  p.offset = 4;
  uint8_t scales[16];
  unpack_scales_q3_K(b.scales, scales);
  for (int g = 0; g < kGroups; ++g) {
    p.scale[g] = int16_t(scales[g] - 32);
    p.min[g] = 0;
  }
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 128, j = (e % 128) / 32, l = e % 32;
    const int low = (b.qs[32 * c + l] >> (2 * j)) & 3;
    const int high = (b.hmask[l] >> (e / 32)) & 1;
    p.q[e] = uint8_t(low | high << 2);
  }
}

// Q4_K: qs[32 * c + l] holds element 64c + l in the low nibble and 64c + 32 + l in the high nibble.
void decode(const block_q4_K& b, BlockParts& p) {
  p.d = f16_to_f32(b.d);
  p.dmin = f16_to_f32(b.dmin);
  p.offset = 0;
  uint8_t sm[16];
  unpack_scales_mins_k4(b.scales, sm);
  for (int g = 0; g < kGroups; ++g) {
    p.scale[g] = sm[g / 2];
    p.min[g] = sm[8 + g / 2];
  }
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 64, hi = (e % 64) / 32, l = e % 32;
    p.q[e] = (b.qs[32 * c + l] >> (4 * hi)) & 0xF;
  }
}

// Q5_K: low 4 bits as in Q4_K; the fifth bit of element 32k + l (k = 0..7) is bit k of qh[l].
void decode(const block_q5_K& b, BlockParts& p) {
  p.d = f16_to_f32(b.d);
  p.dmin = f16_to_f32(b.dmin);
  p.offset = 0;
  uint8_t sm[16];
  unpack_scales_mins_k4(b.scales, sm);
  for (int g = 0; g < kGroups; ++g) {
    p.scale[g] = sm[g / 2];
    p.min[g] = sm[8 + g / 2];
  }
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 64, hi = (e % 64) / 32, l = e % 32;
    const int low = (b.qs[32 * c + l] >> (4 * hi)) & 0xF;
    const int high = (b.qh[l] >> (e / 32)) & 1;
    p.q[e] = uint8_t(low | high << 4);
  }
}

// Q6_K: element 128c + 32k + l (k = 0..3): low 4 bits in ql[64c + 32(k & 1) + l], nibble k >> 1;
// high 2 bits in qh[32c + l], bits 2k..2k+1.
void decode(const block_q6_K& b, BlockParts& p) {
  p.d = f16_to_f32(b.d);
  p.dmin = 0;
  p.offset = 32;
  for (int g = 0; g < kGroups; ++g) {
    p.scale[g] = b.scales[g];
    p.min[g] = 0;
  }
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (b.ql[64 * c + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0xF;
    const int high = (b.qh[32 * c + l] >> (2 * k)) & 3;
    p.q[e] = uint8_t(low | high << 4);
  }
}

// ================================================================================================================
// Reference dequantization and dot products
// ================================================================================================================

template <class Block>
void to_float(const void* x, float* y, int64_t n) {
  const auto* blocks = static_cast<const Block*>(x);
  BlockParts p;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    decode(blocks[i], p);
    for (int e = 0; e < QK_K; ++e) {
      const float dg = p.d * float(p.scale[e / 16]);
      const float mg = p.dmin * float(p.min[e / 16]);
      y[i * QK_K + e] = dg * float(p.q[e] - p.offset) - mg;
    }
  }
}

void to_float_q8_K(const void* x, float* y, int64_t n) {
  const auto* blocks = static_cast<const block_q8_K*>(x);
  for (int64_t i = 0; i < n / QK_K; ++i)
    for (int e = 0; e < QK_K; ++e) y[i * QK_K + e] = blocks[i].d * float(blocks[i].qs[e]);
}

// The formula of kquant_kernels.h: integer sums per super-block, one float update per super-block.
template <class Block>
float vec_dot(int64_t n, const void* w, const void* x) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* xb = static_cast<const block_q8_K*>(x);
  BlockParts p;
  float sum = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    decode(wb[i], p);
    const block_q8_K& y = xb[i];
    int32_t sum_q = 0, sum_min = 0;
    for (int g = 0; g < kGroups; ++g) {
      int32_t dot = 0;
      for (int e = 16 * g; e < 16 * g + 16; ++e) dot += int32_t(p.q[e]) * y.qs[e];
      sum_q += p.scale[g] * (dot - p.offset * y.bsums[g]);
      sum_min += p.min[g] * y.bsums[g];
    }
    sum += p.d * y.d * float(sum_q) - p.dmin * y.d * float(sum_min);
  }
  return sum;
}

template <class Block>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  gemm_by_vec_dot(&vec_dot<Block>, n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tok, y, y_stride);
}

// ================================================================================================================
// Quantization: scale searches of the reference engine
// ================================================================================================================

// Round to nearest, ties to even, for |v| < 2^22 (the reference engine's trick: add 1.5 * 2^23 and read the bits).
inline int nearest_int(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

// Symmetric quantization of n values to L[i] in [0, 2 * nmax) (value = scale * (L - nmax)), weighting each error
// by x^2. Starts from the scale that maps the largest magnitude to -nmax and tries 18 nearby scales, keeping the
// one that maximises (sum w x l)^2 / sum w l^2 (the least-squares optimum). Returns the scale.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); max = x[i]; }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  auto level = [&](float iscale, int i) { return std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))); };
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = level(iscale, i);
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + level(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q3_K's variant: start from max |x| -> -nmax, then improve the levels one at a time (up to 5 sweeps) while the
// x^2-weighted least-squares fit improves. L[i] in [0, 2 * nmax). Returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) { amax = std::fabs(x[i]); max = x[i]; }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < 5; ++sweep) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (!(slx > 0)) continue;
      float sl2 = suml2 - w * L[i] * L[i];
      const int new_l = std::max(-nmax, std::min(nmax - 1, nearest_int(x[i] * sl2 / slx)));
      if (new_l == L[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = int8_t(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++n_changed;
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return sumlx / suml2;
}

// Asymmetric quantization of n values to L[i] in [0, nmax] (value = scale * L - the_min, the_min >= 0), minimising
// the weighted squared (or absolute, use_mad) error. Tries nstep + 1 scales (nmax + rmin + rdelta * step) / range,
// solving the weighted least-squares scale and min for each set of levels. Returns the scale; *the_min gets the min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t(0));
    *the_min = -min;
    return 0.f;
  }
  auto error_of = [&](float scale, float mn, const uint8_t* levels) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * levels[i] + mn - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      err += weights[i] * diff;
    }
    return err;
  };
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i) L[i] = uint8_t(std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min)))));
  float best_error = error_of(scale, min, L);
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - min))));
      Laux[i] = uint8_t(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (!(D > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    const float err = error_of(this_scale, this_min, Laux);
    if (err < best_error) {
      std::copy(Laux, Laux + n, L);
      best_error = err;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

// Packs 256 two-bit levels the Q2_K / Q3_K way: qs[32c + l] = L[128c + l] | L[128c + 32 + l] << 2 | ...
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 2; ++c)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* src = L + 128 * c + l;
      qs[32 * c + l] = uint8_t(src[0] | src[32] << 2 | src[64] << 4 | src[96] << 6);
    }
}

// Packs 8 six-bit scales and mins into the 12 bytes of Q4_K / Q5_K (inverse of unpack_scales_mins_k4).
void pack_scales_mins_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* packed) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = uint8_t((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
      packed[j - 4] |= uint8_t((ls[j] >> 4) << 6);
      packed[j] |= uint8_t((lm[j] >> 4) << 6);
    }
  }
}

// Q4_K and Q5_K share everything but the level count and the search range: 8 sub-blocks of 32 quantized
// asymmetrically (weights sqrt(mean x^2) + |x|), then 6-bit scales and mins relative to the largest of each.
// L gets the final levels (0..nmax); scales / dmin fields are written into the block.
template <class Block>
void quantize_k4_levels(const float* x, Block& b, uint8_t* L, int nmax, float rmin, int nstep) {
  float scales[8], mins[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    lm[j] = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
  }
  std::memset(b.scales, 0, sizeof(b.scales));
  pack_scales_mins_k4(ls, lm, b.scales);
  b.d = f32_to_f16(max_scale / 63.f);
  b.dmin = f32_to_f16(max_min / 63.f);
  // Re-quantize with the scales as stored.
  for (int j = 0; j < 8; ++j) {
    const float d = f16_to_f32(b.d) * ls[j];
    if (!d) continue;
    const float dm = f16_to_f32(b.dmin) * lm[j];
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = uint8_t(std::max(0, std::min(nmax, nearest_int((x[32 * j + i] + dm) / d))));
  }
}

// ================================================================================================================
// Quantizers, one per type (n % 256 == 0)
// ================================================================================================================

void quantize_q2_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q2_K*>(vy);
  constexpr float kQ4Scale = 15.f;  // scales and mins are 4-bit
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    block_q2_K& b = y[i];
    uint8_t L[QK_K], Laux[16];
    float weights[16], scales[kGroups], mins[kGroups];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < kGroups; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    std::memset(b.scales, 0, sizeof(b.scales));
    b.d = b.dmin = f32_to_f16(0.f);
    if (max_scale > 0) {
      const float iscale = kQ4Scale / max_scale;
      for (int j = 0; j < kGroups; ++j) b.scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      b.d = f32_to_f16(max_scale / kQ4Scale);
    }
    if (max_min > 0) {
      const float iscale = kQ4Scale / max_min;
      for (int j = 0; j < kGroups; ++j) b.scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
      b.dmin = f32_to_f16(max_min / kQ4Scale);
    }
    for (int j = 0; j < kGroups; ++j) {
      const float d = f16_to_f32(b.d) * (b.scales[j] & 0xF);
      if (!d) continue;
      const float dm = f16_to_f32(b.dmin) * (b.scales[j] >> 4);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = uint8_t(std::max(0, std::min(3, nearest_int((x[16 * j + l] + dm) / d))));
    }
    pack_2bit(L, b.qs);
  }
}

void quantize_q3_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q3_K*>(vy);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    block_q3_K& b = y[i];
    int8_t L[QK_K];
    float scales[kGroups];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < kGroups; ++j) {
      scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) { amax = std::fabs(scales[j]); max_scale = scales[j]; }
    }
    std::memset(b.scales, 0, sizeof(b.scales));
    b.d = f32_to_f16(0.f);
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < kGroups; ++j) {
        const int l = std::max(-32, std::min(31, nearest_int(iscale * scales[j]))) + 32;  // 0..63
        if (j < 8) b.scales[j] = uint8_t(l & 0xF);
        else b.scales[j - 8] |= uint8_t((l & 0xF) << 4);
        b.scales[8 + j % 4] |= uint8_t((l >> 4) << (2 * (j / 4)));
      }
      b.d = f32_to_f16(1 / iscale);
    }
    uint8_t biased[16];
    unpack_scales_q3_K(b.scales, biased);
    for (int j = 0; j < kGroups; ++j) {
      const float d = f16_to_f32(b.d) * (biased[j] - 32);
      if (!d) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = int8_t(std::max(-4, std::min(3, nearest_int(x[16 * j + l] / d))) + 4);
    }
    // Levels 0..7: the third bit of element 32k + l goes to bit k of hmask[l], the low two bits to qs.
    uint8_t low[QK_K];
    std::memset(b.hmask, 0, sizeof(b.hmask));
    for (int e = 0; e < QK_K; ++e) {
      if (L[e] > 3) b.hmask[e % 32] |= uint8_t(1 << (e / 32));
      low[e] = uint8_t(L[e] & 3);
    }
    pack_2bit(low, b.qs);
  }
}

void quantize_q4_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q4_K*>(vy);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    uint8_t L[QK_K];
    quantize_k4_levels(x, y[i], L, /*nmax=*/15, /*rmin=*/-1.f, /*nstep=*/20);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) y[i].qs[32 * c + l] = uint8_t(L[64 * c + l] | L[64 * c + 32 + l] << 4);
  }
}

void quantize_q5_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q5_K*>(vy);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    uint8_t L[QK_K];
    quantize_k4_levels(x, y[i], L, /*nmax=*/31, /*rmin=*/-0.5f, /*nstep=*/15);
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int e = 0; e < QK_K; ++e)
      if (L[e] > 15) y[i].qh[e % 32] |= uint8_t(1 << (e / 32));
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * c + l] = uint8_t((L[64 * c + l] & 0xF) | (L[64 * c + 32 + l] & 0xF) << 4);
  }
}

void quantize_q6_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q6_K*>(vy);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    block_q6_K& b = y[i];
    int8_t L[QK_K];
    float scales[kGroups];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < kGroups; ++j) {
      scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) { max_abs_scale = std::fabs(scales[j]); max_scale = scales[j]; }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    const float iscale = -128.f / max_scale;
    b.d = f32_to_f16(1 / iscale);
    for (int j = 0; j < kGroups; ++j) b.scales[j] = int8_t(std::min(127, nearest_int(iscale * scales[j])));
    for (int j = 0; j < kGroups; ++j) {
      const float d = f16_to_f32(b.d) * b.scales[j];
      if (!d) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = int8_t(std::max(-32, std::min(31, nearest_int(x[16 * j + l] / d))) + 32);
    }
    // Levels 0..63, element 128c + 32k + l: low nibble into ql (see decode), high two bits into qh.
    for (int c = 0; c < 2; ++c)
      for (int l = 0; l < 32; ++l) {
        const int8_t* s = L + 128 * c + l;
        b.ql[64 * c + l] = uint8_t((s[0] & 0xF) | (s[64] & 0xF) << 4);
        b.ql[64 * c + 32 + l] = uint8_t((s[32] & 0xF) | (s[96] & 0xF) << 4);
        b.qh[32 * c + l] = uint8_t((s[0] >> 4) | (s[32] >> 4) << 2 | (s[64] >> 4) << 4 | (s[96] >> 4) << 6);
      }
  }
}

// Q8_K, exactly as the reference engine rounds activations: the value of largest magnitude (the first one on ties)
// maps to -127, iscale = -127 / max, q = min(127, nearest_int(iscale * x)), d = 1 / iscale, bsums over 16.
void quantize_q8_K(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_K*>(vy);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    block_q8_K& b = y[i];
    float max = 0, amax = 0;
    for (int e = 0; e < QK_K; ++e)
      if (std::fabs(x[e]) > amax) { amax = std::fabs(x[e]); max = x[e]; }
    if (!amax) {
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    const float iscale = -127.f / max;
    for (int e = 0; e < QK_K; ++e) b.qs[e] = int8_t(std::min(127, nearest_int(iscale * x[e])));
    for (int g = 0; g < kGroups; ++g) {
      int sum = 0;
      for (int e = 16 * g; e < 16 * g + 16; ++e) sum += b.qs[e];
      b.bsums[g] = int16_t(sum);
    }
    b.d = 1 / iscale;
  }
}

}  // namespace
}  // namespace kquant

// ================================================================================================================
// Registration
// ================================================================================================================

namespace {

// The kernels of one weight type at each ISA.
struct KQuantEntry {
  DType type;
  FromFloatFn quantize;                                   // scalar only: quantizers are not speed-critical
  ToFloatFn to_float[3];                                  // by Isa
  VecDotFn vec_dot[3];
  GemmFn gemm[3];
};

using namespace kquant;

const KQuantEntry kEntries[] = {
    {DType::Q2_K, quantize_q2_K,
     {to_float<block_q2_K>, avx2::to_float_q2_K, avx2::to_float_q2_K},
     {vec_dot<block_q2_K>, avx2::vec_dot_q2_K, avx512::vec_dot_q2_K},
     {gemm<block_q2_K>, avx2::gemm_q2_K, avx512::gemm_q2_K}},
    {DType::Q3_K, quantize_q3_K,
     {to_float<block_q3_K>, avx2::to_float_q3_K, avx2::to_float_q3_K},
     {vec_dot<block_q3_K>, avx2::vec_dot_q3_K, avx512::vec_dot_q3_K},
     {gemm<block_q3_K>, avx2::gemm_q3_K, avx512::gemm_q3_K}},
    {DType::Q4_K, quantize_q4_K,
     {to_float<block_q4_K>, avx2::to_float_q4_K, avx2::to_float_q4_K},
     {vec_dot<block_q4_K>, avx2::vec_dot_q4_K, avx512::vec_dot_q4_K},
     {gemm<block_q4_K>, avx2::gemm_q4_K, avx512::gemm_q4_K}},
    {DType::Q5_K, quantize_q5_K,
     {to_float<block_q5_K>, avx2::to_float_q5_K, avx2::to_float_q5_K},
     {vec_dot<block_q5_K>, avx2::vec_dot_q5_K, avx512::vec_dot_q5_K},
     {gemm<block_q5_K>, avx2::gemm_q5_K, avx512::gemm_q5_K}},
    {DType::Q6_K, quantize_q6_K,
     {to_float<block_q6_K>, avx2::to_float_q6_K, avx2::to_float_q6_K},
     {vec_dot<block_q6_K>, avx2::vec_dot_q6_K, avx512::vec_dot_q6_K},
     {gemm<block_q6_K>, avx2::gemm_q6_K, avx512::gemm_q6_K}},
};

}  // namespace

void register_kquant_kernels(KernelTable& table, Isa isa) {
  const int i = int(isa);
  for (const KQuantEntry& e : kEntries) {
    TypeKernels& k = table[uint32_t(e.type)];
    k.type = e.type;
    k.vec_dot_type = DType::Q8_K;
    k.from_float = e.quantize;
    k.to_float = e.to_float[i];
    k.vec_dot = e.vec_dot[i];
    k.gemm = e.gemm[i];
  }
  // Q8_K is an activation type: conversions only.
  TypeKernels& q8 = table[uint32_t(DType::Q8_K)];
  q8.type = q8.vec_dot_type = DType::Q8_K;
  q8.from_float = isa == Isa::Scalar ? quantize_q8_K : avx2::quantize_q8_K;
  q8.to_float = isa == Isa::Scalar ? to_float_q8_K : avx2::to_float_q8_K;
}

}  // namespace amusd::kernels
