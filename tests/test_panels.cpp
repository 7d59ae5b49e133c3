// Q8_0 / Q4_0 / Q4_K / Q6_K panels (kernels/panels.h): the repacked layout, and every kernel over it (scalar, VNNI, AMX)
// giving the same bits for every token whatever the batch, close to the row-major kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/device.h"
#include "core/dtype.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"
#include "kernels/quant_blocks.h"
#include "model/context.h"
#include "model/model.h"
#include "support.h"

namespace amusd::kernels {
namespace {

struct Matrix {
  DType type;
  int64_t n, rows;
  std::vector<uint8_t> row_major, panels;
  size_t row_bytes;
};

std::vector<uint8_t> random_rows(DType t, int64_t n, int64_t rows, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  const auto& k = *find_reference_kernels(t);
  const size_t rb = size_t(row_bytes(t, n));
  std::vector<uint8_t> out(rb * size_t(rows));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = nd(rng) * (r % 7 == 0 ? 100.f : 1.f);  // some rows with large scales
    k.from_float(x.data(), out.data() + size_t(r) * rb, n);
  }
  return out;
}

Matrix random_matrix(DType t, int64_t n, int64_t rows, std::mt19937& rng) {
  Matrix m{t, n, rows, random_rows(t, n, rows, rng), {}, size_t(row_bytes(t, n))};
  m.panels.resize(m.row_major.size());
  repack_panels(t, m.row_major.data(), m.row_bytes, rows, n, m.panels.data());
  return m;
}

// The activation type of a weight type's kernels.
DType act_type(DType t) { return find_reference_kernels(t)->vec_dot_type; }

std::vector<float> run(PanelGemmFn fn, const Matrix& w, const std::vector<uint8_t>& x, int64_t n_tok) {
  std::vector<float> y(static_cast<size_t>(n_tok * w.rows), NAN);
  fn(w.n, w.panels.data(), w.rows / kPanelRows, x.data(), size_t(row_bytes(act_type(w.type), w.n)), n_tok, y.data(),
     w.rows);
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class Panels : public ::testing::TestWithParam<DType> {};

TEST_P(Panels, EveryKernelGivesTheScalarBitsForEveryBatchSize) {
  std::mt19937 rng(2);
  const DType t = GetParam();
  using namespace panel_detail;
  const PanelGemmFn scalar = t == DType::Q8_0   ? gemm_scalar<DType::Q8_0>
                             : t == DType::Q4_0 ? gemm_scalar<DType::Q4_0>
                             : t == DType::Q4_K ? gemm_scalar<DType::Q4_K>
                                                : gemm_scalar<DType::Q6_K>;
  const PanelGemmFn amx = t == DType::Q8_0   ? gemm_amx<DType::Q8_0>
                          : t == DType::Q4_0 ? gemm_amx<DType::Q4_0>
                          : t == DType::Q4_K ? gemm_amx<DType::Q4_K>
                                             : nullptr;  // Q6_K: VNNI only
  // 1, 2, 3, 5, 8 and 65 blocks per row (the AMX kernel works on pairs of blocks, scales them 2 blocks later and
  // unpacks Q4_0 4 ahead; Q4_K: 1, 2, 3, 9 super-blocks); 1, 3 and 11 panels (the decode kernels take 8 or 4, then 2,
  // then 1)
  const bool k_quant = t == DType::Q4_K || t == DType::Q6_K;
  const std::vector<int64_t> sizes = k_quant ? std::vector<int64_t>{256, 512, 768, 2304}
                                                      : std::vector<int64_t>{32, 64, 96, 160, 256, 2080};
  for (int64_t n : sizes)
    for (int64_t rows : {16, 48, 176}) {
      const Matrix w = random_matrix(t, n, rows, rng);
      const int64_t max_tok = 37;
      const std::vector<uint8_t> x = random_rows(act_type(t), n, max_tok, rng);
      const std::vector<float> want = run(scalar, w, x, max_tok);
      for (Isa isa : supported_isas())
        for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 33, 37}) {
          SCOPED_TRACE(std::string(isa_name(isa)) + " n " + std::to_string(n) + " rows " + std::to_string(rows) +
                       " tokens " + std::to_string(n_tok));
          const std::vector<float> got = run(panel_gemm_kernel(t, isa), w, x, n_tok);
          ASSERT_TRUE(same_bits(got, std::vector<float>(want.begin(), want.begin() + n_tok * rows)));
          if (amx && amx_usable() && isa == Isa::Avx512) {
            ASSERT_TRUE(same_bits(run(amx, w, x, n_tok), got)) << "AMX";
          }
        }
    }
}

TEST_P(Panels, CloseToTheRowMajorReference) {
  std::mt19937 rng(3);
  const DType t = GetParam();
  const Matrix w = random_matrix(t, 1024, 32, rng);
  const int64_t n_tok = 5;
  const std::vector<uint8_t> x = random_rows(act_type(t), 1024, n_tok, rng);
  std::vector<float> want(static_cast<size_t>(n_tok * w.rows));
  find_reference_kernels(t)->gemm(w.n, w.row_major.data(), w.row_bytes, w.rows, x.data(),
                                  size_t(row_bytes(act_type(t), w.n)), n_tok, want.data(), w.rows);
  const std::vector<float> got = run(panel_gemm_kernel(t, detect_isa()), w, x, n_tok);
  if (t == DType::Q4_K || t == DType::Q6_K) {
    // the reference formula in the reference's order
    EXPECT_TRUE(same_bits(got, want));
    return;
  }
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (std::abs(want[i]) + 100)) << i;
}

INSTANTIATE_TEST_SUITE_P(Types, Panels, ::testing::Values(DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// Q8_0 / Q4_0: block by block (Q4_K: Q4KPanels.RepackKeepsEveryField).
TEST(LegacyPanels, RepackKeepsEveryQuantAndScale) {
  std::mt19937 rng(1);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    SCOPED_TRACE(dtype_name(t));
    const Matrix m = random_matrix(t, 96, 32, rng);
    const size_t qs = t == DType::Q8_0 ? 32 : 16, block = 2 + qs, panel_block = 16 * block;
    ASSERT_EQ(m.panels.size(), 2 * 3 * panel_block);
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t b = 0; b < 3; ++b) {
        const uint8_t* src = m.row_major.data() + size_t(r) * m.row_bytes + size_t(b) * block;
        const uint8_t* pb = m.panels.data() + size_t((r / 16) * 3 + b) * panel_block;
        const int64_t i = r % 16;
        EXPECT_EQ(std::memcmp(pb + 2 * i, src, 2), 0) << "scale of row " << r << " block " << b;
        for (size_t k = 0; k < qs / 4; ++k)
          EXPECT_EQ(std::memcmp(pb + 32 + 64 * k + 4 * i, src + 2 + 4 * k, 4), 0) << "row " << r << " dword " << k;
      }
  }
}

TEST(Q6KPanels, RepackKeepsEveryField) {
  std::mt19937 rng(5);
  const int64_t n = 512, rows = 32, n_blocks = n / 256;
  const Matrix m = random_matrix(DType::Q6_K, n, rows, rng);
  constexpr size_t kPanelBlock = 16 * sizeof(block_q6_K);
  ASSERT_EQ(m.panels.size(), size_t(rows / 16 * n_blocks) * kPanelBlock);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto& src = reinterpret_cast<const block_q6_K*>(m.row_major.data() + size_t(r) * m.row_bytes)[b];
      const uint8_t* pb = m.panels.data() + size_t((r / 16) * n_blocks + b) * kPanelBlock;
      const int64_t i = r % 16;
      SCOPED_TRACE("row " + std::to_string(r) + " super-block " + std::to_string(b));
      EXPECT_EQ(std::memcmp(pb + 2 * i, &src.d, 2), 0);
      for (int g = 0; g < 16; ++g) EXPECT_EQ(int8_t(pb[32 + 16 * g + i]), src.scales[g]) << g;
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 8; ++k)
          EXPECT_EQ(std::memcmp(pb + 288 + 512 * j + 64 * k + 4 * i, src.ql + 32 * j + 4 * k, 4), 0) << j << " " << k;
      for (int c = 0; c < 2; ++c)
        for (int k = 0; k < 8; ++k)
          EXPECT_EQ(std::memcmp(pb + 2336 + 512 * c + 64 * k + 4 * i, src.qh + 32 * c + 4 * k, 4), 0) << c << " " << k;
    }
}

TEST(Q4KPanels, RepackKeepsEveryField) {
  std::mt19937 rng(4);
  const int64_t n = 512, rows = 32, n_blocks = n / 256;
  const Matrix m = random_matrix(DType::Q4_K, n, rows, rng);
  constexpr size_t kPanelBlock = 16 * sizeof(block_q4_K);
  ASSERT_EQ(m.panels.size(), size_t(rows / 16 * n_blocks) * kPanelBlock);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < n_blocks; ++b) {
      const auto& src = reinterpret_cast<const block_q4_K*>(m.row_major.data() + size_t(r) * m.row_bytes)[b];
      const uint8_t* pb = m.panels.data() + size_t((r / 16) * n_blocks + b) * kPanelBlock;
      const int64_t i = r % 16;
      SCOPED_TRACE("row " + std::to_string(r) + " super-block " + std::to_string(b));
      EXPECT_EQ(std::memcmp(pb + 2 * i, &src.d, 2), 0);
      EXPECT_EQ(std::memcmp(pb + 32 + 2 * i, &src.dmin, 2), 0);
      for (int w = 0; w < 3; ++w) EXPECT_EQ(std::memcmp(pb + 64 + 64 * w + 4 * i, src.scales + 4 * w, 4), 0) << w;
      for (int c = 0; c < 4; ++c)
        for (int k = 0; k < 8; ++k)
          EXPECT_EQ(std::memcmp(pb + 256 + 512 * c + 64 * k + 4 * i, src.qs + 32 * c + 4 * k, 4), 0) << c << " " << k;
    }
}

TEST(AmxUsable, OnlyWithAvx512) {
  if (amx_usable()) {
    EXPECT_EQ(detect_isa(), Isa::Avx512);
  }
  std::printf("AMX %s on this machine\n", amx_usable() ? "usable" : "not usable");
}

// A whole model: repacked where AMX is usable, the logits of a prompt close to the row-major ones, and a batch of
// tokens gives the bits of the same tokens fed one at a time.
class PanelModel : public ::testing::TestWithParam<const char*> {};

TEST_P(PanelModel, LogitsMatchRowMajorAndAreBatchInvariant) {
  const std::string path = test::shared_path(std::string("models/") + GetParam() + ".gguf");
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

INSTANTIATE_TEST_SUITE_P(Models, PanelModel, ::testing::Values("mini-target-q8_0", "mini-target-q4_0",
                                                                     "mini-target-q4_k_m", "mini-target-q6_k"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace amusd::kernels
