#include "kernels/kernels.h"

#include <array>
#include <mutex>

#include "core/error.h"

namespace amusd::kernels {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa detect_isa() {
  static const Isa isa = [] {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bf16"))
      return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
      return Isa::Avx2;
#endif
    return Isa::Scalar;
  }();
  return isa;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (int i = 0; i <= int(detect_isa()); ++i) out.push_back(Isa(i));
  return out;
}

void gemm_by_vec_dot(VecDotFn dot, int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x,
                     size_t x_row_bytes, int64_t n_tok, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* xb = static_cast<const uint8_t*>(x);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t t = 0; t < n_tok; ++t) y[t * y_stride + r] = dot(n, wb + r * w_row_bytes, xb + t * x_row_bytes);
}

namespace {

struct Tables {
  std::array<KernelTable, 3> by_isa;  // cumulative: Avx512 starts from Avx2's table, which starts from Scalar's
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t;
    KernelTable table(kTableSize);
    for (int i = 0; i <= int(Isa::Avx512); ++i) {
      const Isa isa = Isa(i);
      if (int(isa) <= int(detect_isa())) {
        register_float_kernels(table, isa);
        register_legacy_kernels(table, isa);
        register_kquant_kernels(table, isa);
      }
      t.by_isa[i] = table;
    }
    return t;
  }();
  return t;
}

}  // namespace

const TypeKernels* find_kernels(DType t, Isa isa) {
  const uint32_t id = uint32_t(t);
  if (id >= kTableSize || int(isa) > int(detect_isa())) return nullptr;
  const TypeKernels& k = tables().by_isa[int(isa)][id];
  return (k.vec_dot || k.from_float || k.to_float) ? &k : nullptr;
}

const TypeKernels& kernels(DType t, Isa isa) {
  const TypeKernels* k = find_kernels(t, isa);
  AMUSD_ASSERT(k != nullptr);
  return *k;
}

const TypeKernels* find_reference_kernels(DType t) { return find_kernels(t, Isa::Scalar); }

}  // namespace amusd::kernels
