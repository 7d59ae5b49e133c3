// Float types (F32, F16, BF16): the scalar reference kernels and the registration of every ISA's kernels.
// Compiled for baseline x86-64: the fast kernels live in the *_avx2 / *_avx512 files and are only referenced here
// by address.
#include <cstring>

#include "core/fp16.h"
#include "kernels/float_kernels.h"
#include "kernels/kernels.h"

namespace amusd::kernels {

namespace {

// ================================================================================================
// Scalar reference: element conversions, and dot products of exact float products summed in double precision.
// ================================================================================================

template <DType T> struct Scalar;
template <> struct Scalar<DType::F32> {
  using Elem = float;
  static float to_f32(float v) { return v; }
  static float from_f32(float v) { return v; }
};
template <> struct Scalar<DType::F16> {
  using Elem = f16_t;
  static float to_f32(f16_t v) { return f16_to_f32(v); }
  static f16_t from_f32(float v) { return f32_to_f16(v); }
};
template <> struct Scalar<DType::BF16> {
  using Elem = bf16_t;
  static float to_f32(bf16_t v) { return bf16_to_f32(v); }
  static bf16_t from_f32(float v) { return f32_to_bf16(v); }
};

template <DType T>
void to_float_ref(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const typename Scalar<T>::Elem*>(vx);
  for (int64_t i = 0; i < n; ++i) y[i] = Scalar<T>::to_f32(x[i]);
}

template <DType T>
void from_float_ref(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<typename Scalar<T>::Elem*>(vy);
  for (int64_t i = 0; i < n; ++i) y[i] = Scalar<T>::from_f32(x[i]);
}

template <DType T>
float vec_dot_ref(int64_t n, const void* vw, const void* vx) {
  const auto* w = static_cast<const typename Scalar<T>::Elem*>(vw);
  const auto* x = static_cast<const typename Scalar<T>::Elem*>(vx);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += double(Scalar<T>::to_f32(w[i]) * Scalar<T>::to_f32(x[i]));
  return float(sum);
}

template <DType T>
void gemm_ref(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
              int64_t n_tok, float* y, int64_t y_stride) {
  gemm_by_vec_dot(vec_dot_ref<T>, n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tok, y, y_stride);
}

template <DType T>
TypeKernels reference_kernels() {
  return TypeKernels{T, T, to_float_ref<T>, from_float_ref<T>, vec_dot_ref<T>, gemm_ref<T>};
}

// ================================================================================================
// Registration
// ================================================================================================

// The fast kernels of one ISA, by address (the functions are explicitly instantiated in the ISA file).
struct Avx2Fns {
  template <DType T> static constexpr ToFloatFn to_float = &floats::avx2::to_float<T>;
  template <DType T> static constexpr FromFloatFn from_float = &floats::avx2::from_float<T>;
  template <DType T> static constexpr VecDotFn vec_dot = &floats::avx2::vec_dot<T>;
  template <DType T> static constexpr GemmFn gemm = &floats::avx2::gemm<T>;
};
struct Avx512Fns {
  template <DType T> static constexpr ToFloatFn to_float = &floats::avx512::to_float<T>;
  template <DType T> static constexpr FromFloatFn from_float = &floats::avx512::from_float<T>;
  template <DType T> static constexpr VecDotFn vec_dot = &floats::avx512::vec_dot<T>;
  template <DType T> static constexpr GemmFn gemm = &floats::avx512::gemm<T>;
};

template <class Fns, DType T>
void set_fast(KernelTable& t) {
  t[uint32_t(T)] = TypeKernels{T, T, Fns::template to_float<T>, Fns::template from_float<T>,
                               Fns::template vec_dot<T>, Fns::template gemm<T>};
}

template <class Fns>
void register_fast(KernelTable& t) {
  set_fast<Fns, DType::F32>(t);
  set_fast<Fns, DType::F16>(t);
  set_fast<Fns, DType::BF16>(t);
}

}  // namespace

void register_float_kernels(KernelTable& table, Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      table[uint32_t(DType::F32)] = reference_kernels<DType::F32>();
      table[uint32_t(DType::F16)] = reference_kernels<DType::F16>();
      table[uint32_t(DType::BF16)] = reference_kernels<DType::BF16>();
      break;
    case Isa::Avx2: register_fast<Avx2Fns>(table); break;
    case Isa::Avx512: register_fast<Avx512Fns>(table); break;
  }
}

}  // namespace amusd::kernels
