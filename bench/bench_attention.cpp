// Attention of one token over its cached context: context lengths 128..4096, head_dim 64, GQA 8 (8 query heads
// share one KV head, as in TinyLlama / Llama-3 style models), F16 and F32 KV cache, per ISA. The cache rows are laid
// out as in the KV cache of a model with 4 KV heads (stride = 4 x 64 elements), and this benchmark works on one of
// them. bytes_per_second counts the K and V bytes read; us_per_kv is the time per cached position. Decoding a
// token runs this once per layer and KV head, so it dominates decode time at long contexts.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/fp16.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"

namespace amusd {
namespace {

constexpr int64_t kHeadDim = 64, kGqa = 8, kKvHeads = 4;

// n_kv rows of kKvHeads * kHeadDim random values in `type` (F16 or F32).
std::vector<uint8_t> random_cache(DType type, int64_t n_kv, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  const size_t elem = type == DType::F16 ? 2 : 4;
  std::vector<uint8_t> out(size_t(n_kv * kKvHeads * kHeadDim) * elem);
  for (size_t i = 0; i < out.size() / elem; ++i) {
    const float v = normal(rng);
    if (type == DType::F16) {
      const f16_t h = f32_to_f16(v);
      std::memcpy(out.data() + i * 2, &h, 2);
    } else {
      std::memcpy(out.data() + i * 4, &v, 4);
    }
  }
  return out;
}

void bench_attention(benchmark::State& state, DType type, kernels::Isa isa) {
  const int64_t n_kv = state.range(0);
  std::mt19937 rng(7);
  const std::vector<uint8_t> k = random_cache(type, n_kv, rng), v = random_cache(type, n_kv, rng);
  std::vector<float> q(size_t(kGqa * kHeadDim)), scores(size_t(kGqa * n_kv)), out(size_t(kGqa * kHeadDim));
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& x : q) x = normal(rng);
  const size_t elem = type == DType::F16 ? 2 : 4;
  const kernels::AttendFn attend = kernels::attention_kernel(isa);
  const kernels::AttentionArgs args{.q = q.data(),
                                    .k = k.data(),
                                    .v = v.data(),
                                    .stride = size_t(kKvHeads * kHeadDim) * elem,
                                    .type = type,
                                    .n_kv = n_kv,
                                    .n_q = kGqa,
                                    .head_dim = kHeadDim,
                                    .scale = 1.f / std::sqrt(float(kHeadDim)),
                                    .scores = scores.data(),
                                    .out = out.data()};
  for (auto _ : state) {
    attend(args);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * n_kv * kHeadDim * int64_t(elem));
  state.counters["us_per_kv"] = benchmark::Counter(double(state.iterations()) * double(n_kv) / 1e6,
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Registered at start-up for every KV type x supported ISA.
const bool kRegistered = [] {
  for (DType type : {DType::F16, DType::F32})
    for (kernels::Isa isa : kernels::supported_isas()) {
      const std::string name =
          "attention/" + std::string(dtype_name(type)) + "/" + std::string(kernels::isa_name(isa));
      benchmark::RegisterBenchmark(name.c_str(), bench_attention, type, isa)
          ->ArgName("n_kv")
          ->RangeMultiplier(2)
          ->Range(128, 4096)
          ->Unit(benchmark::kMicrosecond);
    }
  return true;
}();

}  // namespace
}  // namespace amusd
