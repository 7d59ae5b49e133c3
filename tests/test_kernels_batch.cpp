// Batch invariance: a token's result must be bit-identical whether it is computed alone (decoding) or inside a batch
// of any size at any position (verification), and whatever rows the calling thread was given. Otherwise a batched
// verification could flip a near-tie of the target's argmax and break "sd and amusd emit exactly the ar tokens".
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/dtype.h"
#include "kernels/kernels.h"

namespace amusd::kernels {
namespace {

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                              DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<uint8_t> random_rows(DType t, int64_t n, int64_t rows, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(size_t(n * rows));
  for (float& v : x) v = nd(rng);
  std::vector<uint8_t> out(size_t(row_bytes(t, n) * rows));
  const auto& k = *find_reference_kernels(t);
  for (int64_t r = 0; r < rows; ++r) k.from_float(&x[r * n], out.data() + r * row_bytes(t, n), n);
  return out;
}

TEST(BatchInvariance, GemmRowOfATokenDoesNotDependOnTheBatch) {
  std::mt19937 rng(5);
  std::vector<std::string> failures;
  for (Isa isa : supported_isas())
    for (DType t : kWeightTypes) {
      const TypeKernels& k = kernels(t, isa);
      const TypeKernels& act = kernels(k.vec_dot_type, isa);
      for (int64_t n : {256, 768, 2048, 5632}) {
        const int64_t rows = 19, max_tok = 17;
        const auto w = random_rows(t, n, rows, rng);
        std::normal_distribution<float> nd(0.f, 1.f);
        std::vector<float> xf(size_t(n * max_tok));
        for (float& v : xf) v = nd(rng);
        const size_t xrb = size_t(row_bytes(k.vec_dot_type, n));
        std::vector<uint8_t> xq(xrb * max_tok);
        act.from_float(xf.data(), xq.data(), n * max_tok);
        const size_t wrb = size_t(row_bytes(t, n));

        // Each token alone, all rows at once.
        std::vector<float> alone(size_t(max_tok * rows));
        for (int64_t tok = 0; tok < max_tok; ++tok)
          k.gemm(n, w.data(), wrb, rows, xq.data() + tok * xrb, xrb, 1, &alone[tok * rows], rows);

        for (int64_t n_tok : {2, 3, 5, 8, 9, 16, 17}) {
          for (int64_t first : {int64_t(0), max_tok - n_tok}) {
            std::vector<float> batch(size_t(n_tok * rows));
            // Rows split in two uneven parts, as two threads would get them.
            const int64_t split = 7;
            k.gemm(n, w.data(), wrb, split, xq.data() + first * xrb, xrb, n_tok, batch.data(), rows);
            k.gemm(n, w.data() + split * wrb, wrb, rows - split, xq.data() + first * xrb, xrb, n_tok,
                   batch.data() + split, rows);
            int bad = 0;
            for (int64_t tok = 0; tok < n_tok; ++tok)
              for (int64_t r = 0; r < rows; ++r) bad += batch[tok * rows + r] != alone[(first + tok) * rows + r];
            if (bad)
              failures.push_back(std::string(dtype_name(t)) + "/" + std::string(isa_name(isa)) + " n=" +
                                 std::to_string(n) + " n_tok=" + std::to_string(n_tok) + " first=" +
                                 std::to_string(first) + ": " + std::to_string(bad) + " values differ");
          }
        }
      }
    }
  for (const auto& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace amusd::kernels
