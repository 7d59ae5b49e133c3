// vpdpbusd against a broadcast activation dword, with the broadcast folded into the instruction's memory operand.
// Written out because GCC broadcasts into a register first and, in kernels with several tokens (and panels) in flight,
// hoists dozens of those registers, keeps them live and spills them and the accumulators to the stack. Include only
// from files built with AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace amusd::kernels {

// s + the products of q's 64 unsigned bytes and the 4 signed bytes at x + Off, repeated in every lane.
template <int Off>
[[gnu::always_inline]] inline __m512i dpbusd_at(__m512i s, __m512i q, const void* x) {
  asm("vpdpbusd %c[off](%[x])%{1to16%}, %[q], %[s]"
      : [s] "+v"(s)
      : [q] "v"(q), [x] "r"(x), [off] "i"(Off), "m"(*reinterpret_cast<const int32_t*>(static_cast<const char*>(x) + Off)));
  return s;
}

}  // namespace amusd::kernels
