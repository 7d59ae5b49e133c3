#include "kernels/q8_panels.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels {

bool amx_usable() {
  static const bool usable = [] {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    __asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    const bool amx_int8 = (d >> 24 & 1) && (d >> 25 & 1);  // AMX-TILE, AMX-INT8
    if (!amx_int8 || detect_isa() != Isa::Avx512) return false;
    // Linux hands out the 8 KiB tile state only on request (ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return usable;
}

void repack_q8_0_panels(const uint8_t* src, size_t row_bytes, int64_t n_rows, int64_t n, uint8_t* dst) {
  const int64_t n_blocks = n / 32;
  for (int64_t p = 0; p < n_rows / kPanelRows; ++p)
    for (int64_t b = 0; b < n_blocks; ++b) {
      uint8_t* out = dst + (p * n_blocks + b) * kPanelBlockBytes;
      for (int64_t i = 0; i < kPanelRows; ++i) {
        const auto* blk = reinterpret_cast<const block_q8_0*>(src + (p * kPanelRows + i) * row_bytes) + b;
        std::memcpy(out + 2 * i, &blk->d, 2);
        for (int k = 0; k < 8; ++k) std::memcpy(out + 32 + 64 * k + 4 * i, blk->qs + 4 * k, 4);
      }
    }
}

namespace panel_detail {

void gemm_scalar(int64_t n, const uint8_t* w, int64_t n_panels, const uint8_t* x, size_t x_row_bytes, int64_t n_tok,
                 float* y, int64_t y_stride) {
  const int64_t n_blocks = n / 32;
  for (int64_t p = 0; p < n_panels; ++p)
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t i = 0; i < kPanelRows; ++i) {
        float acc = 0.0f;
        for (int64_t b = 0; b < n_blocks; ++b) {
          const uint8_t* pb = w + (p * n_blocks + b) * kPanelBlockBytes;
          const auto* a = reinterpret_cast<const block_q8_0*>(x + t * x_row_bytes) + b;
          int32_t isum = 0;
          for (int k = 0; k < 32; ++k) isum += int32_t(int8_t(pb[32 + 64 * (k / 4) + 4 * i + k % 4])) * a->qs[k];
          f16_t wd;
          std::memcpy(&wd, pb + 2 * i, 2);
          acc = std::fma(float(isum) * f16_to_f32(a->d), f16_to_f32(wd), acc);
        }
        y[t * y_stride + p * kPanelRows + i] = acc;
      }
}

}  // namespace panel_detail

PanelGemmFn panel_gemm_kernel(Isa isa) {
  return isa == Isa::Avx512 ? panel_detail::gemm_avx512 : panel_detail::gemm_scalar;
}

}  // namespace amusd::kernels
