#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"

namespace amusd::kernels {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += double(x[i] * x[i]);
  const float scale = 1.0f / std::sqrt(float(sum / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
}

void rope_angles(int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors, float* cos,
                 float* sin) {
  // theta is advanced by repeated multiplication, as the reference engine does, so angles match it bit for bit.
  const float theta_scale = std::pow(base, -2.0f / float(n_rot));
  float theta = float(pos);
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    const float t = theta * freq_scale / (freq_factors ? freq_factors[i] : 1.0f);
    cos[i] = std::cos(t);
    sin[i] = std::sin(t);
    theta *= theta_scale;
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float* cos, const float* sin, bool neox) {
  const int64_t half = n_rot / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* xh = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      float* a = neox ? xh + i : xh + 2 * i;
      float* b = neox ? xh + i + half : xh + 2 * i + 1;
      const float x0 = *a, x1 = *b;
      *a = std::fma(x0, cos[i], -(x1 * sin[i]));
      *b = std::fma(x0, sin[i], x1 * cos[i]);
    }
  }
}

float exp_poly(float x) {
  // exp(x) = 2^n * exp(b) with n = round(x / ln 2) (rounded by adding 1.5 * 2^23) and b = x - n ln 2 (ln 2 in two
  // parts), exp(b) by a degree-5 polynomial, then scaled by 2^n; |n| > 192 flushes to 0 or infinity.
  if (std::isnan(x)) return x;
  const float round_shift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, round_shift);
  const float n = z - round_shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  if (std::fabs(n) > 192) return n <= 0 ? 0.0f : INFINITY;
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b,
                                                                                              0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, int(n));
}

float sum16(const float* v) {
  // The reference's reduction tree: halves of 8, then 4, then pairs (0+2, 1+3), then the last two.
  float h8[8], h4[4];
  for (int i = 0; i < 8; ++i) h8[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; ++i) h4[i] = h8[i] + h8[i + 4];
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

void softmax(float* x, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kExpChunk) {
    float chunk[kExpChunk] = {};
    const int64_t m = std::min<int64_t>(kExpChunk, n - i0);
    for (int64_t i = 0; i < m; ++i) chunk[i] = x[i0 + i] = exp_poly(x[i0 + i] - max);
    sum += double(sum16(chunk));
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t begin, int64_t end, int64_t row_len) {
  const int64_t vector_part = row_len / kExpChunk * kExpChunk;
  for (int64_t i = begin; i < end; ++i) {
    const float g = gate[i];
    const float e = i % row_len < vector_part ? exp_poly(-g) : std::exp(-g);
    out[i] = g / (1.0f + e) * up[i];
  }
}

void add(float* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += x[i];
}

void store_row(const float* x, void* dst, DType type, int64_t n) {
  if (type == DType::F32) {
    std::memcpy(dst, x, size_t(n) * 4);
    return;
  }
  auto* h = static_cast<f16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
}

}  // namespace amusd::kernels
