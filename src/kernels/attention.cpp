#include "kernels/attention.h"

#include <cmath>

#include "core/fp16.h"
#include "kernels/ops.h"

namespace amusd::kernels {

AttendFn attention_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return attention_detail::attend_avx512;
    case Isa::Avx2: return attention_detail::attend_avx2;
    case Isa::Scalar: break;
  }
  return attention_detail::attend_scalar;
}

namespace attention_detail {

namespace {

template <class T>
float load(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, float>) return p[i];
  else return f16_to_f32(p[i]);
}

template <class T>
float round_to(float x) {
  if constexpr (std::is_same_v<T, float>) return x;
  else return f16_to_f32(f32_to_f16(x));
}

template <class T>
void attend(const AttentionArgs& a) {
  for (int64_t h = 0; h < a.n_q; ++h) {
    float q[kMaxHeadDim];
    for (int64_t d = 0; d < a.head_dim; ++d) q[d] = round_to<T>(a.q[h * a.head_dim + d]);
    float* s = a.scores + h * a.n_kv;
    for (int64_t j = 0; j < a.n_kv; ++j) {
      const T* kj = reinterpret_cast<const T*>(a.k + j * a.stride);
      double dot = 0;
      for (int64_t d = 0; d < a.head_dim; ++d) dot += double(q[d] * load(kj, d));
      s[j] = float(dot) * a.scale;
    }
    softmax(s, a.n_kv);
    float* out = a.out + h * a.head_dim;
    for (int64_t d = 0; d < a.head_dim; ++d) out[d] = 0;
    for (int64_t j = 0; j < a.n_kv; ++j) {
      const T* vj = reinterpret_cast<const T*>(a.v + j * a.stride);
      const float p = round_to<T>(s[j]);
      for (int64_t d = 0; d < a.head_dim; ++d) out[d] += p * load(vj, d);
    }
  }
}

}  // namespace

void attend_scalar(const AttentionArgs& a) {
  if (a.type == DType::F32) attend<float>(a);
  else attend<f16_t>(a);
}

}  // namespace attention_detail
}  // namespace amusd::kernels
