// Microbenchmarks of the K-quant matrix products, single thread: y = W x for W of 2048 x 2048 weights in each K-quant
// type and n_tok = 1, 2, 4, 8, 16 Q8_K activation rows, at every ISA this CPU supports.
//   gemm/<type>/<isa>/hot   one weight matrix, reused (it stays in L2 / L3: the small-model case)
//   gemm/<type>/<isa>/cold  copies of the matrix filling twice the last-level cache, used in turn (decode of a
//                           model far larger than the cache: the weights stream from DRAM)
//   gemm/q4_K_panels/...    the same over the 16-row panel form (kernels/panels.h) that models use where AMX is
//                           usable
// bytes_per_second counts weight bytes: at n_tok = 1 it is the bandwidth the kernel sustains.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"
#include "kernels/quant_blocks.h"

namespace amusd {
namespace {

using kernels::Isa;

constexpr int64_t kN = 2048;     // elements per row
constexpr int64_t kRows = 2048;  // output rows

// Random quants and scales with finite, moderate super-block scales (no inf / NaN / denormal slow paths).
template <class Block>
void fill_blocks(std::vector<uint8_t>& bytes, std::mt19937& rng, bool has_dmin) {
  for (uint8_t& b : bytes) b = uint8_t(rng());
  auto* blocks = reinterpret_cast<Block*>(bytes.data());
  for (size_t i = 0; i < bytes.size() / sizeof(Block); ++i) {
    blocks[i].d = f32_to_f16(1e-3f);
    if constexpr (requires { blocks[i].dmin; }) blocks[i].dmin = f32_to_f16(has_dmin ? 5e-4f : 0.f);
  }
}

std::vector<uint8_t> random_matrix(DType type, std::mt19937& rng) {
  std::vector<uint8_t> w(size_t(row_bytes(type, kN) * kRows));
  switch (type) {
    case DType::Q2_K: fill_blocks<block_q2_K>(w, rng, true); break;
    case DType::Q3_K: fill_blocks<block_q3_K>(w, rng, false); break;
    case DType::Q4_K: fill_blocks<block_q4_K>(w, rng, true); break;
    case DType::Q5_K: fill_blocks<block_q5_K>(w, rng, true); break;
    case DType::Q6_K: fill_blocks<block_q6_K>(w, rng, false); break;
    default: break;
  }
  return w;
}

size_t last_level_cache_bytes() {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return l3 > 0 ? size_t(l3) : size_t(64) << 20;
}

void bench_gemm(benchmark::State& state, DType type, Isa isa, bool cold, bool panels) {
  const int64_t n_tok = state.range(0);
  const kernels::TypeKernels& k = kernels::kernels(type, isa);
  const size_t w_row = size_t(row_bytes(type, kN)), x_row = size_t(row_bytes(DType::Q8_K, kN));
  std::mt19937 rng(1);

  std::vector<uint8_t> matrix = random_matrix(type, rng);
  if (panels) {
    std::vector<uint8_t> packed(matrix.size());
    kernels::repack_panels(type, matrix.data(), w_row, kRows, kN, packed.data());
    matrix.swap(packed);
  }
  const size_t copies = cold ? std::max<size_t>(2, 2 * last_level_cache_bytes() / matrix.size() + 1) : 1;
  std::vector<uint8_t> w(matrix.size() * copies);
  for (size_t c = 0; c < copies; ++c) std::memcpy(w.data() + c * matrix.size(), matrix.data(), matrix.size());

  std::normal_distribution<float> normal;
  std::vector<float> xf(size_t(kN * n_tok));
  for (float& v : xf) v = normal(rng);
  std::vector<uint8_t> x(x_row * size_t(n_tok));
  const kernels::TypeKernels& q8 = kernels::kernels(DType::Q8_K, isa);
  for (int64_t t = 0; t < n_tok; ++t) q8.from_float(xf.data() + t * kN, x.data() + t * x_row, kN);
  std::vector<float> y(size_t(kRows * n_tok));

  size_t c = 0;
  for (auto _ : state) {
    if (panels)
      kernels::panel_gemm_kernel(type, isa)(kN, w.data() + c * matrix.size(), kRows / kernels::kPanelRows, x.data(),
                                            x_row, n_tok, y.data(), kRows);
    else
      k.gemm(kN, w.data() + c * matrix.size(), w_row, kRows, x.data(), x_row, n_tok, y.data(), kRows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
    c = c + 1 == copies ? 0 : c + 1;
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(matrix.size()));
  // time / (iterations * n_tok), in microseconds
  state.counters["us_per_token"] = benchmark::Counter(double(state.iterations()) * double(n_tok) / 1e6,
                                                      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Registered at start-up for every type x supported ISA x {hot, cold}.
const bool kRegistered = [] {
  for (DType type : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K})
    for (Isa isa : kernels::supported_isas())
      for (bool cold : {false, true})
        for (bool panels : {false, true}) {
          if (panels && (!kernels::has_panels(type) || isa != Isa::Avx512)) continue;  // models repack for AMX CPUs
          const std::string name = "gemm/" + std::string(dtype_name(type)) + (panels ? "_panels/" : "/") +
                                   std::string(kernels::isa_name(isa)) + (cold ? "/cold" : "/hot");
          benchmark::RegisterBenchmark(name.c_str(), bench_gemm, type, isa, cold, panels)
              ->ArgName("n_tok")
              ->Arg(1)->Arg(2)->Arg(4)->Arg(5)->Arg(8)->Arg(16)
              ->Unit(benchmark::kMicrosecond)
              // with --benchmark_repetitions=N: the fastest run, the least disturbed by other work on the machine
              ->ComputeStatistics("min",
                                  [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
        }
  return true;
}();

}  // namespace
}  // namespace amusd

// amusd_microbench is linked from every bench/*.cpp; a weak main lets any other file provide its own
// (BENCHMARK_MAIN) without a duplicate-symbol error.
__attribute__((weak)) int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
