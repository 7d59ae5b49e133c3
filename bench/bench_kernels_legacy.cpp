// gemm throughput of the float and legacy quantized types: n = 2048, 2048 rows, n_tok = 1, 2, 4, 8, 16, per ISA.
// The "l2" variants use 256 rows (about 0.5 MiB of Q8_0, resident in L2 after the first call): the kernel's compute
// throughput without memory stalls.
// bytes_per_second counts the weight bytes read once per call (the decode roofline); compare the time of
// n_tok = 8 with n_tok = 1 to see what verifying 8 tokens in one pass costs. Each benchmark runs 5 times and also
// reports the fastest run ("_min"), the useful figure on a shared machine. (Google Benchmark applies the statistic
// to every column: in the _min row bytes_per_second is the lowest rate; divide the weight bytes by the _min time.)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"

namespace amusd {
namespace {

constexpr int64_t kN = 2048;

// n_rows rows (or n_tok activation rows) of n random values in type t, quantized by the reference quantizer.
std::vector<uint8_t> random_rows(DType t, int64_t n, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const kernels::TypeKernels* ref = kernels::find_reference_kernels(t);
  std::vector<float> x(static_cast<size_t>(n));
  std::vector<uint8_t> out(static_cast<size_t>(row_bytes(t, n) * rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : x) v = normal(rng);
    ref->from_float(x.data(), out.data() + r * row_bytes(t, n), n);
  }
  return out;
}

void bench_gemm(benchmark::State& state, DType type, kernels::Isa isa, int64_t n_rows) {
  const int64_t n_tok = state.range(0);
  const kernels::TypeKernels& k = kernels::kernels(type, isa);
  const std::vector<uint8_t> w = random_rows(type, kN, n_rows, 1);
  const std::vector<uint8_t> x = random_rows(k.vec_dot_type, kN, n_tok, 2);
  std::vector<float> y(static_cast<size_t>(n_rows * n_tok));
  const size_t w_row = size_t(row_bytes(type, kN)), x_row = size_t(row_bytes(k.vec_dot_type, kN));
  for (auto _ : state) {
    k.gemm(kN, w.data(), w_row, n_rows, x.data(), x_row, n_tok, y.data(), n_rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}

// The same products over 16-row panels (kernels/panels.h): VNNI for small batches, AMX from kAmxMinTokens where usable
// (n_tok 3-8 around those thresholds).
void bench_panels(benchmark::State& state, DType type, kernels::Isa isa, int64_t n_rows) {
  const int64_t n_tok = state.range(0);
  const std::vector<uint8_t> w = random_rows(type, kN, n_rows, 1);
  std::vector<uint8_t> panels(w.size());
  kernels::repack_panels(type, w.data(), size_t(row_bytes(type, kN)), n_rows, kN, panels.data());
  const std::vector<uint8_t> x = random_rows(DType::Q8_0, kN, n_tok, 2);
  const size_t x_row = size_t(row_bytes(DType::Q8_0, kN));
  std::vector<float> y(static_cast<size_t>(n_rows * n_tok));
  const kernels::PanelGemmFn gemm = kernels::panel_gemm_kernel(type, isa);
  for (auto _ : state) {
    gemm(kN, panels.data(), n_rows / kernels::kPanelRows, x.data(), x_row, n_tok, y.data(), n_rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(w.size()));
}

const bool kRegistered = [] {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                  DType::Q8_0})
    for (kernels::Isa isa : kernels::supported_isas())
      for (int64_t rows : {2048, 256}) {
        const std::string name = "gemm/" + std::string(dtype_name(t)) + "/" + std::string(kernels::isa_name(isa)) +
                                 (rows == 2048 ? "" : "/l2");
        auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_gemm, t, isa, rows);
        b->ArgName("n_tok")->Unit(benchmark::kMicrosecond)->Repetitions(5);
        b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
        if (isa == kernels::Isa::Scalar)
          b->Arg(1)->Arg(8);  // the reference is only there for scale
        else
          b->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16);
      }
  for (DType t : {DType::Q8_0, DType::Q4_0})
    for (int64_t rows : {2048, 256}) {
      const kernels::Isa isa = kernels::detect_isa();
      const std::string name = "gemm/" + std::string(dtype_name(t)) + "_panels/" + std::string(kernels::isa_name(isa)) +
                               (kernels::amx_usable() ? "+amx" : "") + (rows == 2048 ? "" : "/l2");
      auto* b = benchmark::RegisterBenchmark(name.c_str(), bench_panels, t, isa, rows);
      b->ArgName("n_tok")->Unit(benchmark::kMicrosecond)->Repetitions(5);
      b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
      b->Arg(1)->Arg(2)->Arg(3)->Arg(4)->Arg(5)->Arg(6)->Arg(7)->Arg(8)->Arg(16);
    }
  return true;
}();

}  // namespace
}  // namespace amusd

BENCHMARK_MAIN();
