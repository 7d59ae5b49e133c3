// Kernels of the float (F32, F16, BF16) and legacy quantized (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; Q8_1 activations)
// types: the scalar reference on hand-built blocks, quantization round trips, every ISA against the scalar
// reference, and dequantization of the real mini-target files against their F16 twin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "support.h"

namespace amusd {
namespace {

using kernels::Isa;
using kernels::TypeKernels;

constexpr DType kWeightTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q4_0,
                                  DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};
constexpr DType kLegacyTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

const TypeKernels& ref(DType t) {
  const TypeKernels* k = kernels::find_reference_kernels(t);
  EXPECT_NE(k, nullptr) << dtype_name(t);
  return *k;
}

std::string label(DType t, Isa isa) { return std::string(dtype_name(t)) + "/" + std::string(kernels::isa_name(isa)); }

// Gaussian data whose scale changes from block to block (so block scales vary over 2^-4 .. 2^4).
std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-4, 4);
  std::vector<float> x(static_cast<size_t>(n));
  float scale = 1.0f;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 32 == 0) scale = std::ldexp(1.0f, exponent(rng));
    x[size_t(i)] = normal(rng) * scale;
  }
  return x;
}

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(size_t(row_bytes(t, int64_t(x.size()))));
  ref(t).from_float(x.data(), out.data(), int64_t(x.size()));
  return out;
}

std::vector<float> dequantize(const TypeKernels& k, const uint8_t* data, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  k.to_float(data, out.data(), n);
  return out;
}

// ================================================================================================
// Dispatch table
// ================================================================================================

TEST(KernelTable, CompanionTypesAreThoseOfTheReferenceEngine) {
  const std::pair<DType, DType> expected[] = {{DType::F32, DType::F32},   {DType::F16, DType::F16},
                                              {DType::BF16, DType::BF16}, {DType::Q4_0, DType::Q8_0},
                                              {DType::Q4_1, DType::Q8_1}, {DType::Q5_0, DType::Q8_0},
                                              {DType::Q5_1, DType::Q8_1}, {DType::Q8_0, DType::Q8_0}};
  for (Isa isa : kernels::supported_isas())
    for (auto [w, a] : expected) {
      const TypeKernels* k = kernels::find_kernels(w, isa);
      ASSERT_NE(k, nullptr) << label(w, isa);
      EXPECT_EQ(k->type, w);
      EXPECT_EQ(k->vec_dot_type, a) << label(w, isa);
      EXPECT_TRUE(k->to_float && k->from_float && k->vec_dot && k->gemm) << label(w, isa);
    }
  for (Isa isa : kernels::supported_isas()) {
    const TypeKernels* q81 = kernels::find_kernels(DType::Q8_1, isa);
    ASSERT_NE(q81, nullptr);
    EXPECT_TRUE(q81->to_float && q81->from_float);
    EXPECT_FALSE(q81->vec_dot || q81->gemm);
  }
}

// ================================================================================================
// Scalar dequantizers on hand-built blocks
// ================================================================================================

TEST(ReferenceDequant, Q4_0) {
  block_q4_0 b{};
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | (15 - j) << 4);  // element j: j, element j+16: 15-j
  float y[32];
  ref(DType::Q4_0).to_float(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * float(j - 8)) << j;
    EXPECT_EQ(y[j + 16], 0.5f * float(7 - j)) << j;
  }
}

TEST(ReferenceDequant, Q4_1) {
  block_q4_1 b{};
  b.d = f32_to_f16(0.25f);
  b.m = f32_to_f16(-1.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t((j * 7) % 16 | j << 4);
  float y[32];
  ref(DType::Q4_1).to_float(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * float((j * 7) % 16) - 1.5f) << j;
    EXPECT_EQ(y[j + 16], 0.25f * float(j) - 1.5f) << j;
  }
}

TEST(ReferenceDequant, Q5_0) {
  block_q5_0 b{};
  b.d = f32_to_f16(-2.0f);
  const uint32_t qh = 0xA5C3F00Fu;  // fifth bit of element j is bit j
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | (15 - j) << 4);
  float y[32];
  ref(DType::Q5_0).to_float(&b, y, 32);
  for (int j = 0; j < 32; ++j) {
    const int low = j < 16 ? j : 15 - (j - 16);
    const int q = low + 16 * int((qh >> j) & 1u);
    EXPECT_EQ(y[j], -2.0f * float(q - 16)) << j;
  }
}

TEST(ReferenceDequant, Q5_1) {
  block_q5_1 b{};
  b.d = f32_to_f16(0.125f);
  b.m = f32_to_f16(3.0f);
  const uint32_t qh = 0x0F0F3C3Cu;
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t((15 - j) | (j << 4));
  float y[32];
  ref(DType::Q5_1).to_float(&b, y, 32);
  for (int j = 0; j < 32; ++j) {
    const int low = j < 16 ? 15 - j : j - 16;
    const int q = low + 16 * int((qh >> j) & 1u);
    EXPECT_EQ(y[j], 0.125f * float(q) + 3.0f) << j;
  }
}

TEST(ReferenceDequant, Q8_0AndQ8_1) {
  block_q8_0 b{};
  block_q8_1 b1{};
  b.d = b1.d = f32_to_f16(0.0625f);
  b1.s = f32_to_f16(123.0f);  // s is not part of the values
  for (int j = 0; j < 32; ++j) b.qs[j] = b1.qs[j] = int8_t(j * 8 - 128);
  float y[32], y1[32];
  ref(DType::Q8_0).to_float(&b, y, 32);
  ref(DType::Q8_1).to_float(&b1, y1, 32);
  for (int j = 0; j < 32; ++j) {
    EXPECT_EQ(y[j], 0.0625f * float(j * 8 - 128)) << j;
    EXPECT_EQ(y1[j], y[j]) << j;
  }
}

TEST(ReferenceDequant, F16AndBF16) {
  const f16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x3555};
  const float hv[] = {1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), -0.0f, 0.333251953125f};
  float y[6];
  ref(DType::F16).to_float(h, y, 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], hv[i]) << i;
  const bf16_t b[] = {0x3F80, 0xC040, 0x4049, 0x0000};
  const float bv[] = {1.0f, -3.0f, 3.140625f, 0.0f};
  ref(DType::BF16).to_float(b, y, 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], bv[i]) << i;
}

// ================================================================================================
// Quantizers: round-trip error bounds and the reference engine's rounding rules
// ================================================================================================

// Largest |x - dequant(quant(x))| allowed in a block, as a fraction of the block's range measure:
// symmetric types (Q4_0, Q5_0, Q8_0): amax = max |x|, step = amax / levels_per_side; a value clamped at the top
// code (the side opposite to the max) may be off by one step, all others by half a step;
// asymmetric types (Q4_1, Q5_1): step = (max - min) / (levels - 1), error <= step / 2.
// Plus the f16 rounding of the scale (2^-11 relative, times up to 2^4 .. 2^7 steps) and of the min.
double block_error_bound(DType t, const float* x) {
  double amax = 0, mn = x[0], mx = x[0];
  for (int j = 0; j < 32; ++j) {
    amax = std::max(amax, double(std::fabs(x[j])));
    mn = std::min(mn, double(x[j]));
    mx = std::max(mx, double(x[j]));
  }
  const double f16_eps = std::ldexp(1.0, -11);
  switch (t) {
    case DType::Q4_0: return amax / 8 + amax * f16_eps * 2;
    case DType::Q5_0: return amax / 16 + amax * f16_eps * 2;
    case DType::Q8_0:
    case DType::Q8_1: return amax / 127 / 2 + amax * f16_eps * 2;
    case DType::Q4_1: return (mx - mn) / 15 / 2 + (mx - mn + std::fabs(mn)) * f16_eps * 2;
    case DType::Q5_1: return (mx - mn) / 31 / 2 + (mx - mn + std::fabs(mn)) * f16_eps * 2;
    default: return 0;
  }
}

TEST(Quantize, RoundTripWithinBlockBounds) {
  const int64_t n = 32 * 512;
  const std::vector<float> x = random_floats(n, 7);
  for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1}) {
    const std::vector<uint8_t> q = quantize(t, x);
    const std::vector<float> y = dequantize(ref(t), q.data(), n);
    double err2 = 0, ref2 = 0;
    for (int64_t b = 0; b < n / 32; ++b) {
      const double bound = block_error_bound(t, &x[size_t(b * 32)]);
      for (int j = 0; j < 32; ++j) {
        const size_t i = size_t(b * 32 + j);
        ASSERT_LE(std::fabs(double(x[i]) - double(y[i])), bound) << dtype_name(t) << " block " << b << " elem " << j;
        err2 += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        ref2 += double(x[i]) * x[i];
      }
    }
    RecordProperty(std::string("rel_rms_") + std::string(dtype_name(t)), std::to_string(std::sqrt(err2 / ref2)));
  }
}

TEST(Quantize, FloatTypesRoundToNearestEven) {
  const std::vector<float> x = random_floats(1000, 11);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const std::vector<uint8_t> q = quantize(t, x);
    const std::vector<float> y = dequantize(ref(t), q.data(), int64_t(x.size()));
    const double eps = t == DType::F32 ? 0 : t == DType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_LE(std::fabs(double(x[i]) - y[i]), eps * std::fabs(double(x[i])) + 1e-7) << dtype_name(t) << " " << i;
  }
  // Ties go to even: 1 + 2^-11 is halfway between two halves, 1 + 2^-8 halfway between two bfloat16.
  const float tie_f16[] = {1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11)};
  f16_t h[2];
  ref(DType::F16).from_float(tie_f16, h, 2);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0x3C02);
  const float tie_bf16[] = {1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8)};
  bf16_t b[2];
  ref(DType::BF16).from_float(tie_bf16, b, 2);
  EXPECT_EQ(b[0], 0x3F80);
  EXPECT_EQ(b[1], 0x3F82);
}

// The activation quantizers follow the reference engine's x86 run-time rule: d = amax / 127, q = x * (127 / amax)
// rounded half to even; Q8_1 adds s = fp16(d * sum(q)).
TEST(Quantize, ActivationRoundingIsHalfToEven) {
  float x[32] = {127.0f, 2.5f, -3.5f, 0.5f, -0.5f, 1.5f, -126.5f};  // amax = 127: x * id = x exactly
  block_q8_0 q{};
  block_q8_1 q1{};
  for (Isa isa : kernels::supported_isas()) {
    kernels::kernels(DType::Q8_0, isa).from_float(x, &q, 32);
    kernels::kernels(DType::Q8_1, isa).from_float(x, &q1, 32);
    const int8_t expected[] = {127, 2, -4, 0, 0, 2, -126};
    for (int j = 0; j < 7; ++j) {
      EXPECT_EQ(q.qs[j], expected[j]) << kernels::isa_name(isa) << " " << j;
      EXPECT_EQ(q1.qs[j], expected[j]) << kernels::isa_name(isa) << " " << j;
    }
    EXPECT_EQ(q.d, f32_to_f16(1.0f));
    EXPECT_EQ(q1.s, f32_to_f16(1.0f * float(127 + 2 - 4 + 0 + 0 + 2 - 126)));
  }
  // An all-zero block has d = 0 and zero quants.
  const float zeros[32] = {};
  ref(DType::Q8_0).from_float(zeros, &q, 32);
  EXPECT_EQ(q.d, 0);
  for (int8_t v : q.qs) EXPECT_EQ(v, 0);
}

// ================================================================================================
// Fast conversions equal the scalar reference bit for bit
// ================================================================================================

TEST(FastConversions, ToFloatBitExact) {
  for (int64_t n : {32, 96, 256, 1056}) {
    const std::vector<float> x = random_floats(n + 7, uint32_t(n));  // + 7: float types also take odd lengths
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                    DType::Q8_0, DType::Q8_1}) {
      const int64_t len = info(t).block_size == 1 ? n + 7 : n;
      std::vector<uint8_t> q = quantize(t, std::vector<float>(x.begin(), x.begin() + len));
      if (t == DType::Q8_0 && !q.empty()) reinterpret_cast<block_q8_0*>(q.data())->qs[3] = -128;  // files may hold it
      const std::vector<float> expected = dequantize(ref(t), q.data(), len);
      for (Isa isa : kernels::supported_isas()) {
        const std::vector<float> got = dequantize(kernels::kernels(t, isa), q.data(), len);
        ASSERT_EQ(std::memcmp(got.data(), expected.data(), size_t(len) * 4), 0) << label(t, isa) << " n=" << len;
      }
    }
  }
}

TEST(FastConversions, FromFloatBitExact) {
  for (int64_t n : {32, 64, 288, 4096}) {
    std::vector<float> x = random_floats(n + 5, uint32_t(n) + 1);
    for (size_t i = 0; i < x.size(); i += 97) x[i] = std::round(x[i] * 4) / 4;  // some exact ties for every rule
    for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q8_1, DType::Q4_0, DType::Q4_1,
                    DType::Q5_0, DType::Q5_1}) {
      const int64_t len = info(t).block_size == 1 ? n + 5 : n;
      const size_t bytes = size_t(row_bytes(t, len));
      std::vector<uint8_t> expected(bytes), got(bytes);
      ref(t).from_float(x.data(), expected.data(), len);
      for (Isa isa : kernels::supported_isas()) {
        kernels::kernels(t, isa).from_float(x.data(), got.data(), len);
        ASSERT_EQ(got, expected) << label(t, isa) << " n=" << len;
      }
    }
  }
}

// ================================================================================================
// vec_dot and gemm against the scalar reference
// ================================================================================================

// A weight matrix and activations of one type pair, with padded strides.
struct Problem {
  DType w_type, x_type;
  int64_t n, n_rows, n_tok;
  size_t w_row_bytes, x_row_bytes;
  std::vector<uint8_t> w, x;            // n_rows rows at w_row_bytes, n_tok rows at x_row_bytes
  std::vector<double> magnitude;        // [t * n_rows + r]: sum_k |w_rk * x_tk| of the dequantized values
};

Problem make_problem(DType w_type, int64_t n, int64_t n_rows, int64_t n_tok, uint32_t seed) {
  Problem p{w_type, ref(w_type).vec_dot_type, n, n_rows, n_tok, 0, 0, {}, {}, {}};
  const size_t w_bytes = size_t(row_bytes(w_type, n)), x_bytes = size_t(row_bytes(p.x_type, n));
  const size_t w_unit = size_t(info(w_type).block_bytes), x_unit = size_t(info(p.x_type).block_bytes);
  p.w_row_bytes = w_bytes + w_unit * (1 + 2 * (seed % 3));  // an odd number of extra blocks / elements
  p.x_row_bytes = x_bytes + x_unit * (1 + 2 * (seed % 2));
  p.w.assign(p.w_row_bytes * size_t(n_rows), 0xEE);
  p.x.assign(p.x_row_bytes * size_t(n_tok), 0xEE);
  std::vector<std::vector<float>> wf, xf;
  for (int64_t r = 0; r < n_rows; ++r) {
    const std::vector<uint8_t> q = quantize(w_type, random_floats(n, seed * 1000 + uint32_t(r)));
    std::copy(q.begin(), q.end(), p.w.begin() + ptrdiff_t(size_t(r) * p.w_row_bytes));
    wf.push_back(dequantize(ref(w_type), q.data(), n));
  }
  for (int64_t t = 0; t < n_tok; ++t) {
    const std::vector<uint8_t> q = quantize(p.x_type, random_floats(n, seed * 1000 + 500 + uint32_t(t)));
    std::copy(q.begin(), q.end(), p.x.begin() + ptrdiff_t(size_t(t) * p.x_row_bytes));
    xf.push_back(dequantize(ref(p.x_type), q.data(), n));
  }
  for (int64_t t = 0; t < n_tok; ++t)
    for (int64_t r = 0; r < n_rows; ++r) {
      double m = 0;
      for (int64_t k = 0; k < n; ++k) m += std::fabs(double(wf[size_t(r)][size_t(k)]) * xf[size_t(t)][size_t(k)]);
      p.magnitude.push_back(m);
    }
  return p;
}

// Fast and reference results differ only by float rounding: per block a few roundings of scale products and one
// accumulation, so |fast - ref| <= kDotTolerance * sum_k |w_k x_k| (with a wide margin for n up to 8K).
constexpr double kDotTolerance = 2e-5;

void expect_gemm_matches(const Problem& p, Isa isa) {
  const TypeKernels& fast = kernels::kernels(p.w_type, isa);
  const int64_t y_stride = p.n_rows + 3;
  const float sentinel = 1234.5f;
  std::vector<float> expected(size_t(y_stride * p.n_tok), sentinel), got(expected);
  ref(p.w_type).gemm(p.n, p.w.data(), p.w_row_bytes, p.n_rows, p.x.data(), p.x_row_bytes, p.n_tok, expected.data(),
                     y_stride);
  fast.gemm(p.n, p.w.data(), p.w_row_bytes, p.n_rows, p.x.data(), p.x_row_bytes, p.n_tok, got.data(), y_stride);
  const std::string what = label(p.w_type, isa) + " n=" + std::to_string(p.n) + " rows=" + std::to_string(p.n_rows) +
                           " tok=" + std::to_string(p.n_tok);
  for (int64_t t = 0; t < p.n_tok; ++t) {
    for (int64_t r = 0; r < y_stride; ++r) {
      const size_t i = size_t(t * y_stride + r);
      if (r >= p.n_rows) {
        ASSERT_EQ(got[i], sentinel) << what << ": wrote past n_rows at t=" << t << " r=" << r;
        continue;
      }
      const double tol = kDotTolerance * p.magnitude[size_t(t * p.n_rows + r)] + 1e-30;
      ASSERT_NEAR(got[i], expected[i], tol) << what << " t=" << t << " r=" << r;
      // vec_dot agrees too (checked on a subset to keep the test fast).
      if ((t + r) % 7 == 0) {
        const uint8_t* wr = p.w.data() + size_t(r) * p.w_row_bytes;
        const uint8_t* xt = p.x.data() + size_t(t) * p.x_row_bytes;
        ASSERT_NEAR(fast.vec_dot(p.n, wr, xt), ref(p.w_type).vec_dot(p.n, wr, xt), tol) << what << " vec_dot";
      }
    }
  }
}

// The reference dot products are the dot products of the dequantized values, up to float rounding and, for the
// "_1" types, the stored s = fp16(d * sum(q)) of Q8_1 that replaces d16 * sum(q) (2^-10 relative, times |m|).
TEST(ReferenceVecDot, EqualsDotOfDequantizedValues) {
  const int64_t n = 32 * 40;
  for (DType t : kWeightTypes) {
    const TypeKernels& k = ref(t);
    const std::vector<uint8_t> w = quantize(t, random_floats(n, 5)), x = quantize(k.vec_dot_type, random_floats(n, 6));
    const std::vector<float> wf = dequantize(k, w.data(), n), xf = dequantize(ref(k.vec_dot_type), x.data(), n);
    double exact = 0, magnitude = 0, min_term = 0;
    for (int64_t i = 0; i < n; ++i) {
      exact += double(wf[size_t(i)]) * xf[size_t(i)];
      magnitude += std::fabs(double(wf[size_t(i)]) * xf[size_t(i)]);
    }
    if (k.vec_dot_type == DType::Q8_1)
      for (int64_t b = 0; b < n / 32; ++b) {
        f16_t m, s;
        std::memcpy(&m, w.data() + b * info(t).block_bytes + 2, 2);  // m follows d in Q4_1 / Q5_1
        std::memcpy(&s, x.data() + b * sizeof(block_q8_1) + 2, 2);
        min_term += std::fabs(double(f16_to_f32(m)) * f16_to_f32(s));
      }
    EXPECT_NEAR(k.vec_dot(n, w.data(), x.data()), exact, 1e-5 * magnitude + std::ldexp(min_term, -9))
        << dtype_name(t);
  }
}

TEST(Gemm, MatchesReferenceOnRandomShapes) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int64_t> rows(1, 37), toks(1, 16);
  const int64_t block_multiples[] = {1, 2, 7, 8, 9, 15, 16, 24, 33, 64};
  for (DType t : kWeightTypes) {
    for (int64_t blocks : block_multiples) {
      int64_t n = blocks * 32;
      if (info(t).block_size == 1 && blocks % 3 == 0) n += 13;  // float types take any length
      const Problem p = make_problem(t, n, rows(rng), toks(rng), uint32_t(blocks));
      for (Isa isa : kernels::supported_isas()) expect_gemm_matches(p, isa);
    }
  }
}

TEST(Gemm, EveryTileSizeAndLongRows) {
  // Every token count up to 17 (tiles of 16 / 8 and their remainders), and rows long enough for the kernels to
  // split K into several chunks of their activation scratch.
  for (DType t : kWeightTypes) {
    for (int64_t n_tok = 1; n_tok <= 17; ++n_tok) {
      const Problem p = make_problem(t, 256, 5, n_tok, uint32_t(n_tok));
      for (Isa isa : kernels::supported_isas()) expect_gemm_matches(p, isa);
    }
    const int64_t long_n = info(t).block_size == 1 ? 5000 : 32 * 170;
    for (int64_t n_tok : {1, 8, 16, 19}) {
      const Problem p = make_problem(t, long_n, 3, n_tok, uint32_t(n_tok) + 100);
      for (Isa isa : kernels::supported_isas()) expect_gemm_matches(p, isa);
    }
  }
}

TEST(Gemm, ZeroLengthRowsGiveZero) {
  for (DType t : kWeightTypes)
    for (Isa isa : kernels::supported_isas()) {
      float y[4] = {1, 2, 3, 4};
      const uint8_t dummy[64] = {};
      kernels::kernels(t, isa).gemm(0, dummy, 0, 2, dummy, 0, 2, y, 2);
      for (float v : y) EXPECT_EQ(v, 0.0f) << label(t, isa);
    }
}

// ================================================================================================
// Real files: every legacy tensor of mini-target-<type>.gguf against the same tensor of mini-target-f16.gguf
// ================================================================================================

struct FileCase {
  const char* file;
  DType type;
  double max_rel_rms;  // bound on rms(dequant - f16) / rms(f16) per tensor
};

// The bounds follow the step of each type on Gaussian-like weights (amax of 32 samples is about 2.0 - 2.5 sigma):
// Q4_0 step amax/8 -> rel. rms ~ 0.09; Q4_1 (max-min)/15 -> ~0.08 (half the step, twice the range);
// Q5_0 ~ 0.045; Q5_1 ~ 0.04; Q8_0 ~ 0.005; BF16 keeps 8 significant bits -> ~ 0.0015 (2^-9 / sqrt 3).
// Each bound is about 1.5x the expected value.
const FileCase kFiles[] = {
    {"mini-target-q4_0.gguf", DType::Q4_0, 0.14}, {"mini-target-q4_1.gguf", DType::Q4_1, 0.12},
    {"mini-target-q5_0.gguf", DType::Q5_0, 0.07}, {"mini-target-q5_1.gguf", DType::Q5_1, 0.06},
    {"mini-target-q8_0.gguf", DType::Q8_0, 0.008}, {"mini-target-bf16.gguf", DType::BF16, 0.0025},
};

TEST(RealFiles, DequantizedTensorsMatchF16Twin) {
  const std::string f16_path = test::shared_path("models/mini-target-f16.gguf");
  if (!test::shared_exists("models/mini-target-f16.gguf")) GTEST_SKIP() << "missing " << f16_path;
  const auto f16 = gguf::File::open(f16_path);
  for (const FileCase& c : kFiles) {
    const auto file = gguf::File::open(test::shared_path(std::string("models/") + c.file));
    int compared = 0;
    double worst = 0;
    for (const gguf::TensorInfo& t : file->tensors()) {
      if (t.type != c.type) continue;
      const gguf::TensorInfo* twin = f16->find_tensor(t.name);
      ASSERT_NE(twin, nullptr) << c.file << ": " << t.name << " has no twin in the f16 file";
      ASSERT_EQ(twin->ne, t.ne) << t.name;
      if (twin->type != DType::F16) continue;  // e.g. norms stay F32 in both
      const int64_t n = t.n_elements();
      const std::vector<float> expected = dequantize(ref(DType::F16), twin->data, n);
      const std::vector<float> got = dequantize(ref(c.type), t.data, n);
      double err2 = 0, ref2 = 0;
      for (int64_t i = 0; i < n; ++i) {
        err2 += (double(got[size_t(i)]) - expected[size_t(i)]) * (double(got[size_t(i)]) - expected[size_t(i)]);
        ref2 += double(expected[size_t(i)]) * expected[size_t(i)];
      }
      const double rel = std::sqrt(err2 / ref2);
      EXPECT_LE(rel, c.max_rel_rms) << c.file << ": " << t.name;
      worst = std::max(worst, rel);
      for (Isa isa : kernels::supported_isas()) {  // the fast dequantizers agree on real data too
        const std::vector<float> fast = dequantize(kernels::kernels(c.type, isa), t.data, n);
        ASSERT_EQ(std::memcmp(fast.data(), got.data(), size_t(n) * 4), 0) << c.file << ": " << t.name;
      }
      ++compared;
    }
    EXPECT_GT(compared, 0) << c.file << " holds no " << dtype_name(c.type) << " tensor";
    RecordProperty(std::string("worst_rel_rms_") + c.file, std::to_string(worst));
    std::printf("%-24s %3d %-5s tensors, worst relative rms error vs f16: %.5f (bound %.4f)\n", c.file, compared,
                std::string(dtype_name(c.type)).c_str(), worst, c.max_rel_rms);
  }
}

}  // namespace
}  // namespace amusd
