// Softmax, SwiGLU and attention kernels of every ISA against the scalar ones in ops.cpp / attention.cpp. Softmax and
// SwiGLU must be bit-identical across ISAs (same operations, only vectorised); attention within float rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace amusd::kernels {
namespace {

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// Both NaN, or the same bits.
::testing::AssertionResult same_float(float a, float b) {
  if ((std::isnan(a) && std::isnan(b)) || bits(a) == bits(b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << b << " (bits " << std::hex << bits(a) << " vs " << bits(b)
                                       << ")";
}

TEST(ExpPoly, WithinTwoUlpOfExpOverTheNormalRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.001953125f) {
    const double exact = std::exp(double(x));
    worst = std::max(worst, std::abs(double(exp_poly(x)) - exact) / exact);
  }
  EXPECT_LT(worst, 2.5e-7);  // 1.45 ulp + 0.5 ulp of rounding, in units of 2^-23
  std::printf("exp_poly: max relative error %.3g over [-87, 88]\n", worst);
}

TEST(ExpPoly, SpecialValues) {
  EXPECT_EQ(exp_poly(0.0f), 1.0f);
  EXPECT_EQ(exp_poly(-0.0f), 1.0f);
  EXPECT_EQ(exp_poly(-INFINITY), 0.0f);
  EXPECT_EQ(exp_poly(INFINITY), INFINITY);
  EXPECT_EQ(exp_poly(200.0f), INFINITY);
  EXPECT_EQ(exp_poly(-200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_poly(NAN)));
  const float tiny = exp_poly(-90.0f);  // subnormal (about 2^-130)
  EXPECT_GT(tiny, 0.0f);
  EXPECT_LT(tiny, 1e-38f);
  EXPECT_NEAR(tiny / std::exp(-90.0), 1.0, 1e-4);
}

// Values that exercise every path of the vector exp: ordinary, large, subnormal results, overflow, infinities.
std::vector<float> test_values(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> wide(-200.f, 200.f), narrow(-6.f, 6.f);
  const float specials[] = {0.f, -0.f, 1.f, -1.f, 87.5f, 88.7f, 89.f, -87.5f, -95.f, -103.f, -104.f, -150.f,
                            190.f, -190.f, 300.f, -300.f, INFINITY, -INFINITY};
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i % 3 == 0 ? wide(rng) : narrow(rng);
  for (size_t i = 0; i < std::size(specials) && i * 7 < n; ++i) v[i * 7] = specials[i];
  return v;
}

TEST(Activations, SiluMulIsBitIdenticalOnEveryIsa) {
  std::mt19937 rng(1);
  for (int64_t row_len : {1, 7, 15, 16, 17, 33, 128, 172, 200}) {
    const int64_t rows = 3, total = rows * row_len;
    const std::vector<float> gate = test_values(rng, size_t(total)), up = test_values(rng, size_t(total));
    std::vector<float> want(static_cast<size_t>(total));
    silu_mul(gate.data(), up.data(), want.data(), 0, total, row_len);
    for (Isa isa : supported_isas()) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " row_len " + std::to_string(row_len));
      // Split the flat range at arbitrary points, as the thread group does.
      std::vector<float> got(static_cast<size_t>(total), -1.f);
      std::uniform_int_distribution<int64_t> cut(0, total);
      int64_t a = cut(rng), b = cut(rng);
      if (a > b) std::swap(a, b);
      for (auto [lo, hi] : {std::pair{int64_t(0), a}, std::pair{a, b}, std::pair{b, total}})
        activation_kernels(isa).silu_mul(gate.data(), up.data(), got.data(), lo, hi, row_len);
      for (int64_t i = 0; i < total; ++i) ASSERT_TRUE(same_float(got[i], want[i])) << "element " << i;
    }
  }
}

TEST(Activations, SoftmaxIsBitIdenticalOnEveryIsaAndSumsToOne) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.f, 8.f);
  for (int64_t n = 1; n <= 300; n += (n < 40 ? 1 : 37)) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = nd(rng);
    if (n > 3) x[size_t(n / 2)] = -INFINITY;  // a masked position
    std::vector<float> want = x;
    softmax(want.data(), n);
    double sum = 0;
    for (float p : want) sum += p;
    EXPECT_NEAR(sum, 1.0, 1e-5) << "n " << n;
    for (Isa isa : supported_isas()) {
      std::vector<float> got = x;
      activation_kernels(isa).softmax(got.data(), n);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_TRUE(same_float(got[i], want[i])) << isa_name(isa) << " n " << n << " element " << i;
    }
  }
}

TEST(Attention, EveryIsaMatchesTheScalarKernel) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (DType type : {DType::F32, DType::F16})
    for (int64_t head_dim : {8, 64, 100})
      for (int64_t n_kv : {1, 17, 200}) {
        const int64_t n_q = 4;
        const size_t elem = type == DType::F32 ? 4 : 2, stride = size_t(head_dim) * elem;
        std::vector<uint8_t> k(stride * size_t(n_kv)), v(stride * size_t(n_kv));
        for (std::vector<uint8_t>* cache : {&k, &v})
          for (int64_t j = 0; j < n_kv; ++j) {
            std::vector<float> row(static_cast<size_t>(head_dim));
            for (float& x : row) x = nd(rng);
            store_row(row.data(), cache->data() + size_t(j) * stride, type, head_dim);
          }
        std::vector<float> q(static_cast<size_t>(n_q * head_dim));
        for (float& x : q) x = nd(rng);
        auto run = [&](Isa isa) {
          std::vector<float> scores(static_cast<size_t>(n_q * n_kv)), out(static_cast<size_t>(n_q * head_dim));
          const AttentionArgs args{q.data(), k.data(), v.data(), stride, type, n_kv, n_q, head_dim,
                                   1.0f / std::sqrt(float(head_dim)), scores.data(), out.data()};
          attention_kernel(isa)(args);
          return out;
        };
        const std::vector<float> want = run(Isa::Scalar);
        for (Isa isa : supported_isas()) {
          const std::vector<float> got = run(isa);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-5f + 1e-5f * std::abs(want[i]))
                << isa_name(isa) << " " << dtype_name(type) << " head_dim " << head_dim << " n_kv " << n_kv;
        }
      }
}

}  // namespace
}  // namespace amusd::kernels
