// AVX2 (+ FMA, F16C) kernels for the legacy quantized types; the math is in legacy_kernels.h.
//
// Same scheme as the AVX-512 file at half the width: gemm works on groups of 4 blocks (128 elements) whose weights
// are unpacked once into 4 registers of unsigned 8-bit quants and applied to every token of the tile with
// vpmaddubsw (u8 x s8 -> pairwise int16 sums) and vpmaddwd (-> int32); the activations are rearranged once per call
// into the same layout ("ActGroup").
//
// Group layout: dword lane j (0..7) of every register belongs to block lane_block(j) = j/4 + 2*((j%4)/2), two
// lanes per block; register r holds in lane j the 4 elements kRegBase[r] + 4*(j%2) .. +3 of that block,
// kRegBase = {0, 16, 8, 24}.
//
// 4- and 5-bit quants are stored unsigned (Q4_0: q = w + 8, Q5_0: q = w + 16; the activation side carries
// -offset * sum). Their int16 partial sums cannot overflow: 4 registers x 2 products x 31 x 127 < 32768.
// Q8_0 weights use the sign trick instead (|w| x sign(a, w)), summed in int32 per register.
//
// Only the explicit instantiations at the end have external linkage (see the AVX-512 file for why).

// GCC 12 reports the _mm*_undefined_*() values inside its own intrinsics as uninitialized once they are inlined
// (GCC PR 105593); the warning is attributed to the caller, so it is silenced for the whole file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <utility>

#include "kernels/legacy_kernels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels::legacy::avx2 {

namespace {

// ================================================================================================
// Lane layout
// ================================================================================================

constexpr int kGroupBlocks = 4;
constexpr int kRegBase[4] = {0, 16, 8, 24};

constexpr int lane_block(int j) { return j / 4 + 2 * ((j % 4) / 2); }

// vpshufb control for the 5th bits of register r (see the AVX-512 file): every byte of dword lane j takes byte
// kRegBase[r] / 8 of that lane's qh.
constexpr std::array<uint8_t, 32> high_bit_shuffle(int r) {
  std::array<uint8_t, 32> c{};
  for (int b = 0; b < 32; ++b) c[b] = uint8_t(4 * ((b / 4) % 4) + kRegBase[r] / 8);
  return c;
}

// Byte i of dword lane j tests bit 4*(j%2) + i of the shuffled qh byte.
constexpr std::array<uint8_t, 32> high_bit_mask() {
  std::array<uint8_t, 32> m{};
  for (int b = 0; b < 32; ++b) m[b] = uint8_t(1u << (4 * ((b / 4) % 2) + b % 4));
  return m;
}

inline __m256i load_table(const std::array<uint8_t, 32>& a) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.data()));
}

// 16 bytes at p (low 128 bits) and at p + stride (high 128 bits).
[[gnu::always_inline]] inline __m256i load_2x16(const uint8_t* p, size_t stride) {
  const __m256i lo = _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_inserti128_si256(lo, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + stride)), 1);
}

// The 16-byte windows at byte `off` of 4 blocks interleaved into the group layout: bytes 0..7 of each block (first)
// and bytes 8..15 (second).
[[gnu::always_inline]] inline void load_lanes(const uint8_t* blocks, size_t stride, size_t off, __m256i& first,
                                              __m256i& second) {
  const __m256i lo = load_2x16(blocks + off, stride), hi = load_2x16(blocks + 2 * stride + off, stride);
  first = _mm256_unpacklo_epi64(lo, hi);
  second = _mm256_unpackhi_epi64(lo, hi);
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The f16 at byte `off` of each of 4 blocks, expanded to the lanes, as floats.
[[gnu::always_inline]] inline __m256 expand_f16(const uint8_t* blocks, size_t stride, size_t off) {
  const short h0 = short(load_u16(blocks + off)), h1 = short(load_u16(blocks + stride + off));
  const short h2 = short(load_u16(blocks + 2 * stride + off)), h3 = short(load_u16(blocks + 3 * stride + off));
  return _mm256_cvtph_ps(_mm_setr_epi16(h0, h0, h2, h2, h1, h1, h3, h3));
}

// ================================================================================================
// Horizontal sums of a block of 8 rows
// ================================================================================================

// Rows whose accumulators are reduced together: their 8 sums come out as one vector (6 vhaddps, 2 lane permutes
// and an add) instead of 8 separate horizontal reductions.
constexpr int kRowBlock = 8;

// Lane i of the result = sum of the 8 lanes of v[i].
[[gnu::always_inline]] inline __m256 sum8(const __m256 v[8]) {
  const __m256 h0 = _mm256_hadd_ps(v[0], v[1]), h1 = _mm256_hadd_ps(v[2], v[3]);
  const __m256 h2 = _mm256_hadd_ps(v[4], v[5]), h3 = _mm256_hadd_ps(v[6], v[7]);
  const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);  // 128-bit halves of v[0..3], v[4..7]
  return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

// Writes (or adds, when accumulate) the first n lanes of v to y.
[[gnu::always_inline]] inline void store_sums(__m256 v, float* y, int n, bool accumulate) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  if (accumulate) v = _mm256_add_ps(v, _mm256_maskload_ps(y, mask));
  _mm256_maskstore_ps(y, mask, v);
}

inline int reduce_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// ================================================================================================
// Weights: one group of 4 blocks unpacked into the lane layout
// ================================================================================================

struct WeightGroup {
  __m256i q[4];     // unsigned quants (Q8_0: |w|), lane layout above
  __m256i sign[4];  // Q8_0 only: the signed quants, whose signs are applied to the activations
  __m256 d;         // per lane: the block's scale
  __m256 m;         // per lane: the block's min ("_1" types only)
};

// Per weight type: the block, where its fields are (bytes), and how its quants are stored.
template <DType W> struct Weight;
template <> struct Weight<DType::Q4_0> {
  using Block = block_q4_0;
  static constexpr int kOffset = 8, kQs = offsetof(Block, qs), kM = -1, kQh = -1;
};
template <> struct Weight<DType::Q4_1> {
  using Block = block_q4_1;
  static constexpr int kOffset = 0, kQs = offsetof(Block, qs), kM = offsetof(Block, m), kQh = -1;
};
template <> struct Weight<DType::Q5_0> {
  using Block = block_q5_0;
  static constexpr int kOffset = 16, kQs = offsetof(Block, qs), kM = -1, kQh = offsetof(Block, qh);
};
template <> struct Weight<DType::Q5_1> {
  using Block = block_q5_1;
  static constexpr int kOffset = 0, kQs = offsetof(Block, qs), kM = offsetof(Block, m), kQh = offsetof(Block, qh);
};
template <> struct Weight<DType::Q8_0> {
  using Block = block_q8_0;
  static constexpr int kOffset = 0, kQs = offsetof(Block, qs), kM = -1, kQh = -1;  // sign trick, no offset
};
template <DType W> constexpr bool kHasMin = Weight<W>::kM >= 0;
template <DType W> constexpr DType kActType = kHasMin<W> ? DType::Q8_1 : DType::Q8_0;

// Adds 16 to the quants whose fifth bit is set; qh: per dword lane, the qh word of the lane's block.
[[gnu::always_inline]] inline void add_high_bits(__m256i q[4], __m256i qh) {
  static constexpr std::array<std::array<uint8_t, 32>, 4> kShuffle = {high_bit_shuffle(0), high_bit_shuffle(1),
                                                                     high_bit_shuffle(2), high_bit_shuffle(3)};
  static constexpr auto kMask = high_bit_mask();
  const __m256i mask = load_table(kMask), sixteen = _mm256_set1_epi8(16);
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    const __m256i bit = _mm256_and_si256(_mm256_shuffle_epi8(qh, load_table(kShuffle[r])), mask);
    q[r] = _mm256_or_si256(q[r], _mm256_and_si256(_mm256_cmpeq_epi8(bit, mask), sixteen));
  }
}

// Unpacks the 4 consecutive blocks of type W at `blocks`.
template <DType W>
[[gnu::always_inline]] inline WeightGroup unpack(const uint8_t* blocks) {
  using T = Weight<W>;
  constexpr size_t S = sizeof(typename T::Block);
  WeightGroup g;
  g.d = expand_f16(blocks, S, 0);  // d is the first field of every legacy block
  if constexpr (kHasMin<W>) g.m = expand_f16(blocks, S, T::kM);
  if constexpr (W == DType::Q8_0) {
    load_lanes(blocks, S, T::kQs, g.sign[0], g.sign[2]);
    load_lanes(blocks, S, T::kQs + 16, g.sign[1], g.sign[3]);
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) g.q[r] = _mm256_abs_epi8(g.sign[r]);
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i first, second;  // qs bytes 0..7 and 8..15 of every block
    load_lanes(blocks, S, T::kQs, first, second);
    g.q[0] = _mm256_and_si256(first, low4);                          // elements 0..7
    g.q[1] = _mm256_and_si256(_mm256_srli_epi16(first, 4), low4);    // elements 16..23
    g.q[2] = _mm256_and_si256(second, low4);                         // elements 8..15
    g.q[3] = _mm256_and_si256(_mm256_srli_epi16(second, 4), low4);   // elements 24..31
    if constexpr (T::kQh >= 0) {
      const int qh0 = int(load_u32(blocks + T::kQh)), qh1 = int(load_u32(blocks + S + T::kQh));
      const int qh2 = int(load_u32(blocks + 2 * S + T::kQh)), qh3 = int(load_u32(blocks + 3 * S + T::kQh));
      add_high_bits(g.q, _mm256_setr_epi32(qh0, qh0, qh2, qh2, qh1, qh1, qh3, qh3));
    }
  }
  return g;
}

// ================================================================================================
// Activations: one group of 4 Q8_0 / Q8_1 blocks in the lane layout
// ================================================================================================

struct alignas(32) ActGroup {
  __m256i q[4];  // signed quants, lane layout
  __m256 d;      // per lane: the block's scale
  __m256i c;     // offset weights: int32 -offset * (sum of the lane's quants);
                 // "_1" weights: float s of the block in its first lane (j even), 0 in the other
};

template <DType A> struct Act;
template <> struct Act<DType::Q8_0> { using Block = block_q8_0; };
template <> struct Act<DType::Q8_1> { using Block = block_q8_1; };

// Rearranges 4 consecutive activation blocks for weights of type W.
template <DType W>
[[gnu::always_inline]] inline void prepare_group(const uint8_t* blocks, ActGroup& out) {
  using Block = typename Act<kActType<W>>::Block;
  constexpr size_t S = sizeof(Block), kQs = offsetof(Block, qs);
  load_lanes(blocks, S, kQs, out.q[0], out.q[2]);
  load_lanes(blocks, S, kQs + 16, out.q[1], out.q[3]);
  out.d = expand_f16(blocks, S, 0);
  if constexpr (kHasMin<W>) {
    out.c = _mm256_castps_si256(_mm256_blend_ps(_mm256_setzero_ps(), expand_f16(blocks, S, offsetof(Block, s)), 0x55));
  } else if constexpr (Weight<W>::kOffset != 0) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i sum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (const __m256i& q : out.q)
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16));
    out.c = _mm256_mullo_epi32(sum, _mm256_set1_epi32(-Weight<W>::kOffset));
  } else {
    out.c = _mm256_setzero_si256();
  }
}

// Rearranges one activation row of n_blocks blocks into ceil(n_blocks / 4) groups (the last zero-padded).
template <DType W>
void prepare_row(const uint8_t* row, int64_t n_blocks, ActGroup* out) {
  using Block = typename Act<kActType<W>>::Block;
  const int64_t full = n_blocks / kGroupBlocks, rem = n_blocks % kGroupBlocks;
  for (int64_t g = 0; g < full; ++g) prepare_group<W>(row + g * kGroupBlocks * sizeof(Block), out[g]);
  if (rem > 0) {
    Block tail[kGroupBlocks] = {};
    std::memcpy(tail, row + full * kGroupBlocks * sizeof(Block), size_t(rem) * sizeof(Block));
    prepare_group<W>(reinterpret_cast<const uint8_t*>(tail), out[full]);
  }
}

// ================================================================================================
// gemm
// ================================================================================================

// Adds one group's contribution for one token to acc.
template <DType W>
[[gnu::always_inline]] inline __m256 dot_group(const WeightGroup& w, const ActGroup& a, __m256 acc) {
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256i sum;
  if constexpr (W == DType::Q8_0) {
    sum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      const __m256i pairs = _mm256_maddubs_epi16(w.q[r], _mm256_sign_epi8(a.q[r], w.sign[r]));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, ones16));
    }
  } else {
    __m256i pairs = _mm256_maddubs_epi16(w.q[0], a.q[0]);
#pragma GCC unroll 4
    for (int r = 1; r < 4; ++r) pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(w.q[r], a.q[r]));
    sum = _mm256_madd_epi16(pairs, ones16);
    if constexpr (Weight<W>::kOffset != 0) sum = _mm256_add_epi32(sum, a.c);
  }
  acc = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sum), a.d), w.d, acc);
  if constexpr (kHasMin<W>) acc = _mm256_fmadd_ps(_mm256_castsi256_ps(a.c), w.m, acc);
  return acc;
}

// One K chunk of the product for a tile of tokens whose prepared activations are in `act`.
struct Tile {
  const uint8_t* w;     // weight row 0, at the chunk's first block
  size_t w_row_bytes;
  int64_t n_rows;
  int64_t n_blocks;     // blocks in the chunk
  int64_t n_groups;     // ceil(n_blocks / 4)
  const ActGroup* act;  // [token][n_groups]
  float* y;             // y[t * y_stride + r]
  int64_t y_stride;
  bool accumulate;      // add to y (a later K chunk) instead of overwriting it
};

constexpr int kMaxTile = 8;                  // tokens whose accumulators live in registers
constexpr int64_t kScratchGroups = 320;      // prepared activation groups on the stack (60 KiB)

// NT tokens times one weight row: the row's accumulators, one per token.
template <DType W, int NT>
[[gnu::always_inline]] inline void row_dot(const Tile& t, const uint8_t* row, __m256 acc[NT]) {
  using Block = typename Weight<W>::Block;
  constexpr size_t kGroupBytes = kGroupBlocks * sizeof(Block);
  const int64_t full = t.n_blocks / kGroupBlocks, rem = t.n_blocks % kGroupBlocks;
#pragma GCC unroll 16
  for (int i = 0; i < NT; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t g = 0; g < full; ++g) {
    const WeightGroup wg = unpack<W>(row + g * kGroupBytes);
#pragma GCC unroll 16
    for (int i = 0; i < NT; ++i) acc[i] = dot_group<W>(wg, t.act[i * t.n_groups + g], acc[i]);
  }
  if (rem > 0) {
    Block tail[kGroupBlocks] = {};  // zero scales: the padding contributes nothing
    std::memcpy(tail, row + full * kGroupBytes, size_t(rem) * sizeof(Block));
    const WeightGroup wg = unpack<W>(reinterpret_cast<const uint8_t*>(tail));
#pragma GCC unroll 16
    for (int i = 0; i < NT; ++i) acc[i] = dot_group<W>(wg, t.act[i * t.n_groups + full], acc[i]);
  }
}

template <DType W, int NT>
void gemm_tile(const Tile& t) {
  __m256 sums[NT][kRowBlock];  // [token][row in block]: accumulators awaiting their reduction
  for (int64_t r0 = 0; r0 < t.n_rows; r0 += kRowBlock) {
    const int rows = t.n_rows - r0 < kRowBlock ? int(t.n_rows - r0) : kRowBlock;
    for (int i = 0; i < kRowBlock; ++i) {
      __m256 acc[NT];
      if (i < rows) {
        row_dot<W, NT>(t, t.w + (r0 + i) * t.w_row_bytes, acc);
      } else {
#pragma GCC unroll 16
        for (int k = 0; k < NT; ++k) acc[k] = _mm256_setzero_ps();
      }
#pragma GCC unroll 16
      for (int k = 0; k < NT; ++k) sums[k][i] = acc[k];
    }
    for (int k = 0; k < NT; ++k) store_sums(sum8(sums[k]), t.y + k * t.y_stride + r0, rows, t.accumulate);
  }
}

template <DType W, size_t... I>
constexpr auto make_tile_fns(std::index_sequence<I...>) {
  return std::array<void (*)(const Tile&), sizeof...(I)>{&gemm_tile<W, int(I) + 1>...};
}
template <DType W> constexpr auto kTileFns = make_tile_fns<W>(std::make_index_sequence<kMaxTile>());

// ================================================================================================
// Conversions
// ================================================================================================

// Dequantizes 8 consecutive elements given as int32 quants (offset removed): y = q * d (+ m).
template <bool kMin>
inline void store_dequant(__m256i q, __m256 d, __m256 m, float* y) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(q), d);
  if constexpr (kMin) f = _mm256_add_ps(f, m);
  _mm256_storeu_ps(y, f);
}

// Quantizes one block of 32 floats to Q8 (see legacy_kernels.h); returns the unrounded d and the sum of quants.
inline float quantize_q8_block(const float* x, int8_t* q, int& sum) {
  __m256 v[4];
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax8 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, v[k]));
  }
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
  const float d = amax / 127.0f;
  const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  __m256i i[4];
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], id));  // MXCSR: round half to even
  sum = reduce_i32(_mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3])));
  // Packing works per 128-bit lane: the bytes come out as dwords 0,2,4,6,1,3,5,7; the permute restores the order.
  const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q),
                      _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return d;
}

inline float load_f16(const uint8_t* p) { return _cvtsh_ss(load_u16(p)); }
inline uint16_t to_f16(float f) { return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)); }

}  // namespace

// ================================================================================================
// Exported kernels
// ================================================================================================

template <DType W>
void to_float(const void* vx, float* y, int64_t n) {
  using T = Weight<W>;
  const auto* x = static_cast<const uint8_t*>(vx);
  for (int64_t i = 0; i < n / 32; ++i, x += sizeof(typename T::Block), y += 32) {
    const __m256 d = _mm256_set1_ps(load_f16(x));
    const __m256 m = _mm256_set1_ps(kHasMin<W> ? load_f16(x + (kHasMin<W> ? T::kM : 0)) : 0.0f);
    if constexpr (W == DType::Q8_0) {
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {
        const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + T::kQs + 8 * k));
        store_dequant<false>(_mm256_cvtepi8_epi32(q8), d, m, y + 8 * k);
      }
    } else {
      const uint32_t qh = T::kQh >= 0 ? load_u32(x + (T::kQh >= 0 ? T::kQh : 0)) : 0;
      const __m256i bit_shift = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), one = _mm256_set1_epi32(1);
#pragma GCC unroll 4
      for (int k = 0; k < 4; ++k) {  // elements 8k .. 8k+7: nibbles of qs[8k % 16 ..], low for k < 2
        const __m128i qs8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + T::kQs + 8 * (k % 2)));
        __m256i q = _mm256_cvtepu8_epi32(qs8);
        q = k < 2 ? _mm256_and_si256(q, _mm256_set1_epi32(0x0F)) : _mm256_srli_epi32(q, 4);
        if constexpr (T::kQh >= 0) {
          const __m256i bits = _mm256_set1_epi32(int(qh >> (8 * k)));
          const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(bits, bit_shift), one);
          q = _mm256_or_si256(q, _mm256_slli_epi32(high, 4));
        }
        store_dequant<kHasMin<W>>(_mm256_sub_epi32(q, _mm256_set1_epi32(T::kOffset)), d, m, y + 8 * k);
      }
    }
  }
}

template <>
void to_float<DType::Q8_1>(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_1*>(vx);
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(x[i].d));
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k) {
      const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x[i].qs + 8 * k));
      store_dequant<false>(_mm256_cvtepi8_epi32(q8), d, d, y + 32 * i + 8 * k);
    }
  }
}

template <>
void quantize_act<DType::Q8_0>(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_0*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum;
    y[i].d = to_f16(quantize_q8_block(x + 32 * i, y[i].qs, sum));
  }
}

template <>
void quantize_act<DType::Q8_1>(const float* x, void* vy, int64_t n) {
  auto* y = static_cast<block_q8_1*>(vy);
  for (int64_t i = 0; i < n / 32; ++i) {
    int sum;
    const float d = quantize_q8_block(x + 32 * i, y[i].qs, sum);
    y[i].d = to_f16(d);
    y[i].s = to_f16(d * float(sum));
  }
}

template <DType W>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int64_t n_rows, const void* x, size_t x_row_bytes,
          int64_t n_tok, float* y, int64_t y_stride) {
  using Block = typename Weight<W>::Block;
  using ABlock = typename Act<kActType<W>>::Block;
  const int64_t nb = n / 32;
  if (nb == 0) {
    for (int64_t t = 0; t < n_tok; ++t)
      for (int64_t r = 0; r < n_rows; ++r) y[t * y_stride + r] = 0.0f;
    return;
  }
  ActGroup scratch[kScratchGroups];
  const int64_t n_tiles = (n_tok + kMaxTile - 1) / kMaxTile;
  for (int64_t tile = 0, t0 = 0; tile < n_tiles; ++tile) {
    const int64_t nt = (n_tok - t0 + (n_tiles - tile) - 1) / (n_tiles - tile);  // balanced tiles of <= kMaxTile
    // K chunks sized for the largest tile, so that a token's sums do not depend on the batch it is in.
    const int64_t chunk_blocks = (kScratchGroups / kMaxTile) * kGroupBlocks;
    for (int64_t b0 = 0; b0 < nb; b0 += chunk_blocks) {
      const int64_t n_blocks = nb - b0 < chunk_blocks ? nb - b0 : chunk_blocks;
      const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
      const auto* xb = static_cast<const uint8_t*>(x) + t0 * x_row_bytes + b0 * sizeof(ABlock);
      for (int64_t i = 0; i < nt; ++i) prepare_row<W>(xb + i * x_row_bytes, n_blocks, scratch + i * n_groups);
      const Tile chunk{static_cast<const uint8_t*>(w) + b0 * sizeof(Block), w_row_bytes, n_rows, n_blocks, n_groups,
                       scratch, y + t0 * y_stride, y_stride, b0 > 0};
      kTileFns<W>[nt - 1](chunk);
    }
    t0 += nt;
  }
}

template <DType W>
float vec_dot(int64_t n, const void* w, const void* x) {
  float y;
  gemm<W>(n, w, 0, 1, x, 0, 1, &y, 1);
  return y;
}

#define AMUSD_INSTANTIATE(W)                                                                                  \
  template void to_float<W>(const void*, float*, int64_t);                                                     \
  template float vec_dot<W>(int64_t, const void*, const void*);                                                \
  template void gemm<W>(int64_t, const void*, size_t, int64_t, const void*, size_t, int64_t, float*, int64_t);
AMUSD_INSTANTIATE(DType::Q4_0)
AMUSD_INSTANTIATE(DType::Q4_1)
AMUSD_INSTANTIATE(DType::Q5_0)
AMUSD_INSTANTIATE(DType::Q5_1)
AMUSD_INSTANTIATE(DType::Q8_0)
#undef AMUSD_INSTANTIATE

}  // namespace amusd::kernels::legacy::avx2
