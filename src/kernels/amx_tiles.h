// AMX tile helpers shared by the panel kernels (panels_amx.cpp, panels_q4k_amx.cpp): a configuration of two tile
// sets for one block product each, and the product itself. Include only from files built with the AMX flags.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace amusd::kernels::panel_detail {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

inline void configure(int m) {
  TileConfig cfg;
  for (int set = 0; set < 2; ++set) {
    cfg.rows[3 * set + 0] = uint8_t(m), cfg.colsb[3 * set + 0] = 32;  // A
    cfg.rows[3 * set + 1] = 8, cfg.colsb[3 * set + 1] = 64;           // B
    cfg.rows[3 * set + 2] = uint8_t(m), cfg.colsb[3 * set + 2] = 64;  // C
  }
  // GCC 12's _tile_loadconfig tells the compiler it reads only 8 bytes of cfg; without this barrier the row and
  // column fields are dropped as dead stores.
  __asm__ volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
}

// A block's sums into c (64-byte rows) from activations a and the B tile at b, with tile set 0 (tiles 0, 1, 2) or 1
// (3, 4, 5). The _tile_* macros paste their tile numbers into the instruction text, so each set is its own function.
#define AMUSD_BLOCK_SUMS(name, kA, kB, kC)                                                          \
  [[gnu::always_inline]] inline void name(const uint8_t* a, size_t a_stride, const uint8_t* b, int32_t* c) { \
    _tile_zero(kC);                                                                                \
    _tile_loadd(kA, a, a_stride);                                                                  \
    _tile_loadd(kB, b, 64);                                                                        \
    _tile_dpbssd(kC, kA, kB);                                                                      \
    _tile_stored(kC, c, 64);                                                                       \
  }
AMUSD_BLOCK_SUMS(block_sums_set0, 0, 1, 2)
AMUSD_BLOCK_SUMS(block_sums_set1, 3, 4, 5)
#undef AMUSD_BLOCK_SUMS

}  // namespace
}  // namespace amusd::kernels::panel_detail
