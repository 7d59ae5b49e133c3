// Q8_0 panels (kernels/q8_panels.h): the repacked layout, and every kernel over it (scalar, VNNI, AMX) giving the same
// bits for every token whatever the batch, close to the row-major Q8_0 kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"
#include "kernels/q8_panels.h"
#include "backend/device.h"
#include "model/context.h"
#include "model/model.h"
#include "support.h"

namespace amusd::kernels {
namespace {

struct Matrix {
  int64_t n, rows;
  std::vector<uint8_t> row_major, panels;
  size_t row_bytes;
};

std::vector<uint8_t> random_q8_rows(int64_t n, int64_t rows, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  const auto& k = *find_reference_kernels(DType::Q8_0);
  const size_t rb = size_t(row_bytes(DType::Q8_0, n));
  std::vector<uint8_t> out(rb * size_t(rows));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = nd(rng) * (r % 7 == 0 ? 100.f : 1.f);  // some rows with large scales
    k.from_float(x.data(), out.data() + size_t(r) * rb, n);
  }
  return out;
}

Matrix random_matrix(int64_t n, int64_t rows, std::mt19937& rng) {
  Matrix m{n, rows, random_q8_rows(n, rows, rng), {}, size_t(row_bytes(DType::Q8_0, n))};
  m.panels.resize(m.row_major.size());
  repack_q8_0_panels(m.row_major.data(), m.row_bytes, rows, n, m.panels.data());
  return m;
}

std::vector<float> run(PanelGemmFn fn, const Matrix& w, const std::vector<uint8_t>& x, int64_t n_tok) {
  std::vector<float> y(static_cast<size_t>(n_tok * w.rows), NAN);
  fn(w.n, w.panels.data(), w.rows / kPanelRows, x.data(), w.row_bytes, n_tok, y.data(), w.rows);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Q8Panels, RepackKeepsEveryQuantAndScale) {
  std::mt19937 rng(1);
  const Matrix m = random_matrix(96, 32, rng);
  ASSERT_EQ(m.panels.size(), 2 * 3 * kPanelBlockBytes);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t b = 0; b < 3; ++b) {
      const uint8_t* src = m.row_major.data() + size_t(r) * m.row_bytes + b * 34;
      const uint8_t* pb = m.panels.data() + ((r / 16) * 3 + b) * kPanelBlockBytes;
      const int64_t i = r % 16;
      EXPECT_EQ(std::memcmp(pb + 2 * i, src, 2), 0) << "scale of row " << r << " block " << b;
      for (int k = 0; k < 8; ++k)
        EXPECT_EQ(std::memcmp(pb + 32 + 64 * k + 4 * i, src + 2 + 4 * k, 4), 0) << "row " << r << " dword " << k;
    }
}

TEST(Q8Panels, EveryKernelGivesTheScalarBitsForEveryBatchSize) {
  std::mt19937 rng(2);
  for (int64_t n : {32, 256, 2080})
    for (int64_t rows : {16, 48}) {
      const Matrix w = random_matrix(n, rows, rng);
      const int64_t max_tok = 37;
      const std::vector<uint8_t> x = random_q8_rows(n, max_tok, rng);
      const std::vector<float> want = run(panel_detail::gemm_scalar, w, x, max_tok);
      for (Isa isa : supported_isas())
        for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 15, 16, 17, 33, 37}) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " n " + std::to_string(n) + " rows " + std::to_string(rows) +
                       " tokens " + std::to_string(n_tok));
          const std::vector<float> got = run(panel_gemm_kernel(isa), w, x, n_tok);
          ASSERT_TRUE(same_bits(got, std::vector<float>(want.begin(), want.begin() + n_tok * rows)));
          if (amx_usable() && isa == Isa::Avx512) {
            ASSERT_TRUE(same_bits(run(panel_detail::gemm_amx, w, x, n_tok), got)) << "AMX";
          }
        }
    }
}

TEST(Q8Panels, CloseToTheRowMajorReference) {
  std::mt19937 rng(3);
  const Matrix w = random_matrix(1024, 32, rng);
  const int64_t n_tok = 5;
  const std::vector<uint8_t> x = random_q8_rows(1024, n_tok, rng);
  std::vector<float> want(static_cast<size_t>(n_tok * w.rows));
  find_reference_kernels(DType::Q8_0)->gemm(w.n, w.row_major.data(), w.row_bytes, w.rows, x.data(), w.row_bytes,
                                            n_tok, want.data(), w.rows);
  const std::vector<float> got = run(panel_gemm_kernel(detect_isa()), w, x, n_tok);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (std::abs(want[i]) + 100)) << i;
}

TEST(Q8Panels, AmxUsableOnlyWithAvx512) {
  if (amx_usable()) {
    EXPECT_EQ(detect_isa(), Isa::Avx512);
  }
  std::printf("AMX %s on this machine\n", amx_usable() ? "usable" : "not usable");
}

// A whole model: repacked where AMX is usable, the logits of a prompt close to the row-major ones, and a batch of
// tokens gives the bits of the same tokens fed one at a time.
TEST(Q8Panels, ModelLogitsMatchRowMajorAndAreBatchInvariant) {
  const std::string path = test::shared_path("models/mini-target-q8_0.gguf");
  const auto packed = model::Model::load(path), plain = model::Model::load(path, {.keep_row_major = true});
  EXPECT_EQ(packed->layers()[0].w_up.panels, amx_usable());
  EXPECT_FALSE(plain->layers()[0].w_up.panels);
  auto device = backend::make_cpu_device("test", "", 0);
  const std::vector<int32_t> prompt = packed->tokenizer().encode("The quick brown fox jumps over the lazy dog", true);
  model::Context a(*packed, *device), b(*plain, *device), one_by_one(*packed, *device);
  const auto all_a = a.eval(prompt, model::Logits::All);
  const std::vector<float> batch(all_a.begin(), all_a.end());
  const auto all_b = b.eval(prompt, model::Logits::All);
  const int64_t n_vocab = packed->hparams().n_vocab;
  // Both layouts sum the same products in different float orders; an activation that then rounds to the other 8-bit
  // step moves logits by up to a few hundredths after the model's layers (as in test_reference's Q8_0 tolerance).
  double worst = 0;
  for (size_t i = 0; i < batch.size(); ++i) worst = std::max(worst, double(std::abs(batch[i] - all_b[i])));
  EXPECT_LT(worst, 6e-2);
  for (size_t t = 0; t < prompt.size(); ++t) {
    const auto l = one_by_one.eval({&prompt[t], 1}, model::Logits::Last);
    ASSERT_EQ(std::memcmp(l.data(), batch.data() + t * size_t(n_vocab), size_t(n_vocab) * sizeof(float)), 0)
        << "token " << t;
  }
}

}  // namespace
}  // namespace amusd::kernels
