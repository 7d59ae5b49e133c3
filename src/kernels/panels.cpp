#include "kernels/panels.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/kquant_kernels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels {

using panel_detail::PanelType;

bool amx_usable() {
  static const bool usable = [] {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-int8") || detect_isa() != Isa::Avx512)
      return false;
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return usable;
}

bool has_panels(DType t) {
  return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_K || t == DType::Q6_K;
}

namespace {

// f(offset in the panel block, offset in the row's block, bytes) for every field of row i's block (a super-block
// for the K-quants) in a panel block of type W: the layouts of panels.h.
template <DType W, class F>
void for_each_field(int64_t i, F&& f) {
  using P = PanelType<W>;
  const size_t r = size_t(i);
  if constexpr (W == DType::Q8_0 || W == DType::Q4_0) {
    f(2 * r, 0, 2);  // d, then the quants
    for (size_t k = 0; k < P::kQsBytes / 4; ++k) f(32 + 64 * k + 4 * r, 2 + 4 * k, 4);
  } else if constexpr (W == DType::Q4_K) {
    f(2 * r, offsetof(block_q4_K, d), 2);
    f(32 + 2 * r, offsetof(block_q4_K, dmin), 2);
    for (size_t k = 0; k < 3; ++k) f(P::kScalesAt + 64 * k + 4 * r, offsetof(block_q4_K, scales) + 4 * k, 4);
    for (size_t c = 0; c < 4; ++c)
      for (size_t k = 0; k < 8; ++k)
        f(P::kQsAt + 512 * c + 64 * k + 4 * r, offsetof(block_q4_K, qs) + 32 * c + 4 * k, 4);
  } else {
    static_assert(W == DType::Q6_K);
    f(2 * r, offsetof(block_q6_K, d), 2);
    for (size_t g = 0; g < 16; ++g) f(P::kScalesAt + 16 * g + r, offsetof(block_q6_K, scales) + g, 1);
    for (size_t c = 0; c < 4; ++c)
      for (size_t k = 0; k < 8; ++k) f(P::kQlAt + 512 * c + 64 * k + 4 * r, offsetof(block_q6_K, ql) + 32 * c + 4 * k, 4);
    for (size_t c = 0; c < 2; ++c)
      for (size_t k = 0; k < 8; ++k) f(P::kQhAt + 512 * c + 64 * k + 4 * r, offsetof(block_q6_K, qh) + 32 * c + 4 * k, 4);
  }
}

template <DType W>
void repack(const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst) {
  const int64_t block = info(W).block_size, n_blocks = n / block;
  const size_t block_bytes = size_t(info(W).block_bytes);
  for (int64_t p = 0; p < n_rows / kPanelRows; ++p)
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* out = dst + size_t(p * n_blocks + b) * PanelType<W>::kBlockBytes;
      for (int64_t i = 0; i < kPanelRows; ++i) {
        const uint8_t* blk = src + size_t(p * kPanelRows + i) * row_bytes + size_t(b) * block_bytes;
        for_each_field<W>(i, [&](size_t at, size_t from, size_t bytes) { std::memcpy(out + at, blk + from, bytes); });
      }
    }
}

// Row i's block of type W back from a panel block.
template <DType W, class Block>
Block unpack_row(const uint8_t* pb, int64_t i) {
  Block blk;
  for_each_field<W>(i, [&](size_t at, size_t to, size_t bytes) {
    std::memcpy(reinterpret_cast<uint8_t*>(&blk) + to, pb + at, bytes);
  });
  return blk;
}

}  // namespace

void repack_panels(DType t, const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst) {
  AMUSD_ASSERT(has_panels(t) && n_rows % kPanelRows == 0 && n % info(t).block_size == 0);
  if (t == DType::Q8_0) repack<DType::Q8_0>(src, row_bytes, n_rows, n, dst);
  else if (t == DType::Q4_0) repack<DType::Q4_0>(src, row_bytes, n_rows, n, dst);
  else if (t == DType::Q4_K) repack<DType::Q4_K>(src, row_bytes, n_rows, n, dst);
  else repack<DType::Q6_K>(src, row_bytes, n_rows, n, dst);
}

namespace panel_detail {

namespace {
// Integer weight k (0..31) of row i in a panel block.
template <DType W>
int32_t weight(const uint8_t* pb, int64_t i, int k) {
  if constexpr (W == DType::Q8_0) return int8_t(pb[32 + 64 * (k / 4) + 4 * i + k % 4]);
  const uint8_t byte = pb[32 + 64 * ((k % 16) / 4) + 4 * i + k % 4];
  return int32_t(k < 16 ? byte & 0x0F : byte >> 4) - 8;
}
}  // namespace

template <DType W>
void gemm_scalar(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
                 float* y, int64_t y_stride) {
  const int64_t n_blocks = n / 32;
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < kPanelRows; ++i) {
        float acc = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          const uint8_t* pb = w + size_t(p * n_blocks + b) * PanelType<W>::kBlockBytes;
          const auto* a = reinterpret_cast<const block_q8_0*>(x + t * x_row_bytes) + b;
          int32_t isum = 0;
          for (int k = 0; k < 32; ++k) isum += weight<W>(pb, i, k) * a->qs[k];
          f16_t wd;
          std::memcpy(&wd, pb + 2 * i, 2);
          acc = std::fma(float(isum) * f16_to_f32(a->d), f16_to_f32(wd), acc);
        }
        y[t * y_stride + p * kPanelRows + i] = acc;
      }
}

template void gemm_scalar<DType::Q8_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                       int64_t);
template void gemm_scalar<DType::Q4_0>(int64_t, const uint8_t*, int64_t, const uint8_t*, size_t, int64_t, float*,
                                       int64_t);

// The Q4_K formula of panels.h, one row and token at a time, from the row's super-block put back together.
template <>
void gemm_scalar<DType::Q4_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                              int64_t n_tok, float* y, int64_t y_stride) {
  using P = PanelType<DType::Q4_K>;
  const int64_t n_blocks = n / QK_K;
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < kPanelRows; ++i) {
        float acc = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          const auto blk = unpack_row<DType::Q4_K, block_q4_K>(w + size_t(p * n_blocks + b) * P::kBlockBytes, i);
          const auto& a = reinterpret_cast<const block_q8_K*>(x + t * x_row_bytes)[b];
          uint8_t scales_mins[16];
          kquant::unpack_scales_mins_k4(blk.scales, scales_mins);
          int32_t sumi = 0, summ = 0;
          for (int s = 0; s < 8; ++s) {
            int32_t isum = 0;
            for (int l = 0; l < 32; ++l) {
              const uint8_t byte = blk.qs[32 * (s / 2) + l];
              isum += (s % 2 ? byte >> 4 : byte & 0x0F) * a.qs[32 * s + l];
            }
            sumi += scales_mins[s] * isum;
            summ += scales_mins[8 + s] * (a.bsums[2 * s] + a.bsums[2 * s + 1]);
          }
          acc += f16_to_f32(blk.d) * a.d * float(sumi) - f16_to_f32(blk.dmin) * a.d * float(summ);
        }
        y[t * y_stride + p * kPanelRows + i] = acc;
      }
}

// The Q6_K formula of panels.h, one row and token at a time, from the row's super-block put back together.
template <>
void gemm_scalar<DType::Q6_K>(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes,
                              int64_t n_tok, float* y, int64_t y_stride) {
  using P = PanelType<DType::Q6_K>;
  const int64_t n_blocks = n / QK_K;
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < kPanelRows; ++i) {
        float acc = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          const auto blk = unpack_row<DType::Q6_K, block_q6_K>(w + size_t(p * n_blocks + b) * P::kBlockBytes, i);
          const auto& a = reinterpret_cast<const block_q8_K*>(x + t * x_row_bytes)[b];
          int32_t sumi = 0;
          for (int g = 0; g < 16; ++g) {
            int32_t isum = 0;
            for (int e = 16 * g; e < 16 * g + 16; ++e) {
              const int c = e / 128, k = (e % 128) / 32, l = e % 32;
              const int low = (blk.ql[64 * c + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0xF;
              const int high = (blk.qh[32 * c + l] >> (2 * k)) & 3;
              isum += (low | high << 4) * a.qs[e];
            }
            sumi += blk.scales[g] * (isum - 32 * a.bsums[g]);
          }
          const float dmin = 0.0f, summ = 0.0f;
          acc += f16_to_f32(blk.d) * a.d * float(sumi) - dmin * a.d * summ;
        }
        y[t * y_stride + p * kPanelRows + i] = acc;
      }
}

}  // namespace panel_detail

PanelGemmFn panel_gemm_kernel(DType t, Isa isa) {
  using namespace panel_detail;
  AMUSD_ASSERT(has_panels(t));
  if (t == DType::Q8_0) return isa == Isa::Avx512 ? gemm_avx512<DType::Q8_0> : gemm_scalar<DType::Q8_0>;
  if (t == DType::Q4_0) return isa == Isa::Avx512 ? gemm_avx512<DType::Q4_0> : gemm_scalar<DType::Q4_0>;
  if (t == DType::Q4_K) return isa == Isa::Avx512 ? gemm_avx512<DType::Q4_K> : gemm_scalar<DType::Q4_K>;
  return isa == Isa::Avx512 ? gemm_avx512<DType::Q6_K> : gemm_scalar<DType::Q6_K>;
}

}  // namespace amusd::kernels
