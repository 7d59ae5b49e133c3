// AVX-512 (F, BW, VL, VNNI) kernels for the legacy quantized types; the math is in legacy_kernels.h.
//
// gemm works on groups of 8 blocks (256 elements). The weights of a group are unpacked once into 4 registers of
// unsigned 8-bit quants and applied to every token of the tile with VNNI (vpdpbusd: u8 weights x s8 activations).
// The activations are rearranged once per call into the same layout ("ActGroup"), so the inner loop is 4 vpdpbusd,
// one conversion and two multiply-adds per token per group.
//
// Group layout: dword lane j (0..15) of every register belongs to block lane_block(j) = j/4 + 4*((j%4)/2), two
// lanes per block; register r holds in lane j the 4 elements kRegBase[r] + 4*(j%2) .. +3 of that block,
// kRegBase = {0, 16, 8, 24}. A lane therefore only ever accumulates products of one block, and per-lane scales
// (the block's d, expanded to its two lanes) finish the block math without any horizontal work until the row ends.
// A weight group is read with plain 64-byte loads for its scales (dword permutes + an in-lane byte shuffle) and with
// 16- or 32-byte loads inserted into registers for its quants; word permutes (vpermt2w, several uops each) are left
// to the rarely used fields (Q4_1 / Q5_1 mins, Q5 high bits), since the shuffle port bounds a one-token product.
//
// Decoding (one or two tokens) is bound by memory bandwidth: 4 rows are multiplied together, each its own memory
// stream, with software prefetch of the next rows (see kRowsAtOnce).
//
// Offsets: Q4_0 / Q5_0 quants are stored unsigned (q = w + 8 / w + 16) and Q8_0 ones are flipped to unsigned
// (q = w + 128); the activation side carries the correction -offset * (sum of the lane's activation quants).
//
// Only the explicit instantiations at the end have external linkage; everything else is internal, so that no code
// compiled with AVX-512 flags can be picked by the linker for a baseline caller.

// GCC 12 reports the _mm*_undefined_*() values inside its own intrinsics as uninitialized once they are inlined
// (GCC PR 105593); the warning is attributed to the caller, so it is silenced for the whole file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <utility>

#include "kernels/legacy_kernels.h"
#include "kernels/quant_blocks.h"

namespace amusd::kernels::legacy::avx512 {

namespace {

// ================================================================================================
// Lane layout
// ================================================================================================

constexpr int kGroupBlocks = 8;
constexpr int kRegBase[4] = {0, 16, 8, 24};

constexpr int lane_block(int j) { return j / 4 + 4 * ((j % 4) / 2); }

// Words 0..15: the f16 at byte `lo` of each lane's block; words 16..31: the one at byte `hi`.
constexpr std::array<int, 32> lane_f16_src(int stride, int lo, int hi) {
  std::array<int, 32> src{};
  for (int j = 0; j < 16; ++j) {
    src[j] = lane_block(j) * stride + lo;
    src[16 + j] = lane_block(j) * stride + hi;
  }
  return src;
}

// Dword lane j: the 32-bit field at byte `off` of lane j's block.
constexpr std::array<int, 32> lane_u32_src(int stride, int off) {
  std::array<int, 32> src{};
  for (int j = 0; j < 16; ++j)
    for (int h = 0; h < 2; ++h) src[2 * j + h] = lane_block(j) * stride + off + 2 * h;
  return src;
}

// vpshufb control for the 5th bits of register r: every byte of dword lane j takes byte kRegBase[r] / 8 of that
// lane's qh (the elements of lane j of register r are bits kRegBase[r] + 4*(j%2) .. +3 of qh).
constexpr std::array<uint8_t, 64> high_bit_shuffle(int r) {
  std::array<uint8_t, 64> c{};
  for (int b = 0; b < 64; ++b) c[b] = uint8_t(4 * ((b / 4) % 4) + kRegBase[r] / 8);
  return c;
}

// Byte i of dword lane j tests bit 4*(j%2) + i of the shuffled qh byte.
constexpr std::array<uint8_t, 64> high_bit_mask() {
  std::array<uint8_t, 64> m{};
  for (int b = 0; b < 64; ++b) m[b] = uint8_t(1u << (4 * ((b / 4) % 2) + b % 4));
  return m;
}

template <class T, size_t N>
inline __m512i load_table(const std::array<T, N>& a) {
  static_assert(sizeof(T) * N == 64);
  return _mm512_loadu_si512(a.data());
}

// ================================================================================================
// Gathering words of a group
// ================================================================================================

// A group of 8 blocks of S bytes as consecutive 64-byte registers; the last one is a masked load of the group's
// remaining bytes, so nothing past the group is read.
template <size_t S>
struct GroupRegs {
  static constexpr int kBytes = int(kGroupBlocks * S), kCount = (kBytes + 63) / 64;
  __m512i r[kCount];
  [[gnu::always_inline]] explicit GroupRegs(const uint8_t* p) {
#pragma GCC unroll 8
    for (int i = 0; i < kCount; ++i)
      r[i] = 64 * (i + 1) <= kBytes ? _mm512_loadu_si512(p + 64 * i)
                                    : _mm512_maskz_loadu_epi8(~0ull >> (64 - (kBytes - 64 * i)), p + 64 * i);
  }
};

// How to collect 32 words (given by their byte offsets in the group) from the group's registers: one vpermt2w
// over registers (kFirst, kFirst + 1), then a masked vpermw for each later register that holds some of them.
template <size_t S, std::array<int, 32> kSrc>
struct WordGather {
  static constexpr int kCount = GroupRegs<S>::kCount;
  static constexpr int kFirst = [] {
    int lo = kSrc[0];
    for (int b : kSrc) lo = b < lo ? b : lo;
    return lo / 64 + 1 < kCount ? lo / 64 : kCount - 2;
  }();
  // Word indices into registers (kFirst, kFirst + 1) as one 64-word table.
  static constexpr std::array<int16_t, 32> kPairIndex = [] {
    std::array<int16_t, 32> idx{};
    for (int i = 0; i < 32; ++i) idx[i] = int16_t(kSrc[i] / 64 - kFirst < 2 ? (kSrc[i] - 64 * kFirst) / 2 : 0);
    return idx;
  }();
  // Per later register: word indices into it, and the mask of the output words it provides.
  static constexpr std::array<std::array<int16_t, 32>, kCount> kRegIndex = [] {
    std::array<std::array<int16_t, 32>, kCount> idx{};
    for (int r = 0; r < kCount; ++r)
      for (int i = 0; i < 32; ++i) idx[r][i] = int16_t(kSrc[i] / 64 == r ? (kSrc[i] % 64) / 2 : 0);
    return idx;
  }();
  static constexpr std::array<uint32_t, kCount> kRegMask = [] {
    std::array<uint32_t, kCount> m{};
    for (int i = 0; i < 32; ++i) m[kSrc[i] / 64] |= 1u << i;
    return m;
  }();
  static_assert(kCount >= 2 && kFirst >= 0);
};

template <size_t S, std::array<int, 32> kSrc>
[[gnu::always_inline]] inline __m512i gather_words(const GroupRegs<S>& g) {
  using G = WordGather<S, kSrc>;
  __m512i v = _mm512_permutex2var_epi16(g.r[G::kFirst], load_table(G::kPairIndex), g.r[G::kFirst + 1]);
#pragma GCC unroll 8
  for (int reg = G::kFirst + 2; reg < G::kCount; ++reg)
    if (G::kRegMask[reg] != 0)
      v = _mm512_mask_permutexvar_epi16(v, G::kRegMask[reg], load_table(G::kRegIndex[reg]), g.r[reg]);
  return v;
}

// Two f16 fields (bytes lo, hi of every block) expanded to the lanes, as floats.
template <size_t S, int kLo, int kHi>
[[gnu::always_inline]] inline void lane_f16(const GroupRegs<S>& g, __m512& lo, __m512& hi) {
  const __m512i v = gather_words<S, lane_f16_src(int(S), kLo, kHi)>(g);
  lo = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
  hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(v, 1));
}

// The f16 at byte 0 (the scale d) of every block, expanded to the lanes, as floats. Word permutes (vpermt2w) are
// several uops each on the shuffle port, so the words are collected in two cheaper steps: dword permutes (one uop)
// bring the dword holding each block's d into the 128-bit lane where it is needed, blocks (0, 4, 1, 5) in the first
// and (2, 6, 3, 7) in the second, which are the blocks of lanes 0..7 and 8..15; an in-lane byte shuffle then picks
// the d word of each lane (the d of an odd block may sit in the high half of its dword).
template <size_t S>
struct ScaleGather {
  using Regs = GroupRegs<S>;
  static constexpr int kBlockOfSlot[8] = {0, 4, 1, 5, 2, 6, 3, 7};  // dword slot 4 * lane128 + m -> block
  static constexpr bool in_pair1(int block) { return int(block * S) + 2 <= 128; }
  // Second register pair: from the register holding the first d outside the first pair (at most the last two).
  static constexpr int kPair2 = [] {
    int b = 0;
    while (b < kGroupBlocks - 1 && in_pair1(b)) ++b;
    const int reg = b * int(S) / 64;
    return reg < Regs::kCount - 2 ? reg : Regs::kCount - 2;
  }();
  // Dword indices into register pair (0, 1) or (kPair2, kPair2 + 1); 16 entries (only the low 8 are used).
  static constexpr std::array<int32_t, 16> index(bool first) {
    std::array<int32_t, 16> idx{};
    for (int s = 0; s < 8; ++s) {
      const int b = kBlockOfSlot[s] * int(S) - (first ? 0 : 64 * kPair2);
      idx[s] = (first ? in_pair1(kBlockOfSlot[s]) : !in_pair1(kBlockOfSlot[s])) ? b / 4 : 0;
    }
    return idx;
  }
  static constexpr uint8_t mask2() {
    uint8_t m = 0;
    for (int s = 0; s < 8; ++s) m |= uint8_t(in_pair1(kBlockOfSlot[s]) ? 0 : 1u << s);
    return m;
  }
  // vpshufb control: word w of 128-bit lane h <- the d word of lane 8h + w's block.
  static constexpr std::array<uint8_t, 32> shuffle() {
    std::array<uint8_t, 32> c{};
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 8; ++w) {
        const int block = lane_block(8 * h + w);
        int m = 0;
        while (kBlockOfSlot[4 * h + m] != block) ++m;
        const int byte = 4 * m + (block * int(S)) % 4;
        c[16 * h + 2 * w] = uint8_t(byte);
        c[16 * h + 2 * w + 1] = uint8_t(byte + 1);
      }
    return c;
  }
  static constexpr bool covered() {
    for (int b = 0; b < kGroupBlocks; ++b)
      if (!in_pair1(b) && (b * int(S) < 64 * kPair2 || b * int(S) + 2 > 64 * (kPair2 + 2))) return false;
    return true;
  }
  static_assert(Regs::kCount >= 2 && covered(), "every d must lie in one of the two register pairs");
};

template <size_t S>
[[gnu::always_inline]] inline __m512 lane_scales(const GroupRegs<S>& g) {
  using G = ScaleGather<S>;
  static constexpr auto kIndex1 = G::index(true), kIndex2 = G::index(false);
  static constexpr auto kShuffle = G::shuffle();
  __m256i v = _mm512_castsi512_si256(_mm512_permutex2var_epi32(g.r[0], load_table(kIndex1), g.r[1]));
  if constexpr (G::mask2() != 0) {
    const __m512i v2 = _mm512_permutex2var_epi32(g.r[G::kPair2], load_table(kIndex2), g.r[G::kPair2 + 1]);
    v = _mm256_mask_blend_epi32(G::mask2(), v, _mm512_castsi512_si256(v2));
  }
  v = _mm256_shuffle_epi8(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kShuffle.data())));
  return _mm512_cvtph_ps(v);
}

// 16 bytes at byte `off` of blocks k0 .. k0 + 3, block k0 + i in 128-bit lane i: one load and three inserts from
// memory, which run on either vector port (a word permute of the group's registers takes several shuffle uops).
[[gnu::always_inline]] inline __m512i blocks_16_bytes(const uint8_t* blocks, size_t stride, size_t off, int k0) {
  auto at = [&](int k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + (k0 + k) * stride + off)); };
  __m512i v = _mm512_castsi128_si512(at(0));
  v = _mm512_inserti32x4(v, at(1), 1);
  v = _mm512_inserti32x4(v, at(2), 2);
  return _mm512_inserti32x4(v, at(3), 3);
}

// 32 bytes of every block (at byte `off`; Q8_0 / Q8_1 quants) in the lane layout, registers r = 0..3:
// register r holds qword kRegBase[r] / 8 of every block, block l + 4h in qword 2l + h.
[[gnu::always_inline]] inline void lanes_of_32_bytes(const uint8_t* blocks, size_t stride, size_t off,
                                                     __m512i q[4]) {
  __m512i y[4];  // y[k] = blocks k and k + 4: qword 4h + i is qword i of block k + 4h
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks + k * stride + off));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks + (k + 4) * stride + off));
    y[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  // Per pair of y: qwords 0 and 2 (even) or 1 and 3 (odd) of its four blocks, ordered block k, k + 4, k', k' + 4.
  const __m512i even = _mm512_setr_epi64(0, 4, 8, 12, 2, 6, 10, 14), odd = _mm512_setr_epi64(1, 5, 9, 13, 3, 7, 11, 15);
  const __m512i a = _mm512_permutex2var_epi64(y[0], even, y[1]), b = _mm512_permutex2var_epi64(y[0], odd, y[1]);
  const __m512i c = _mm512_permutex2var_epi64(y[2], even, y[3]), d = _mm512_permutex2var_epi64(y[2], odd, y[3]);
  q[0] = _mm512_shuffle_i64x2(a, c, 0x44);  // qword 0 (bytes 0..7)
  q[1] = _mm512_shuffle_i64x2(a, c, 0xEE);  // qword 2 (bytes 16..23)
  q[2] = _mm512_shuffle_i64x2(b, d, 0x44);  // qword 1 (bytes 8..15)
  q[3] = _mm512_shuffle_i64x2(b, d, 0xEE);  // qword 3 (bytes 24..31)
}

// ================================================================================================
// Horizontal sums of a block of 16 rows
// ================================================================================================

// Rows whose accumulators are reduced together: their 16 sums come out as one vector, for 45 shuffles and adds
// instead of 16 separate horizontal reductions (which would double the cost of a 256-element row).
constexpr int kRowBlock = 16;

// Where row i of a block puts its accumulator for sum16: the reduction tree leaves the total of input j in lane
// 4 * (j % 4) + j / 4, so row i goes to input slot 4 * (i % 4) + i / 4 (the map is its own inverse).
constexpr int row_slot(int i) { return 4 * (i % 4) + i / 4; }

// Lane i of the result = sum of the 16 lanes of v[row_slot(i)].
[[gnu::always_inline]] inline __m512 sum16(const __m512 v[16]) {
  __m512 a[8], b[4];
#pragma GCC unroll 8
  for (int k = 0; k < 8; ++k)  // 128-bit lanes (0+2, 1+3) of v[2k] and v[2k+1]
    a[k] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * k], v[2 * k + 1], 0xEE));
#pragma GCC unroll 4
  for (int m = 0; m < 4; ++m)  // 128-bit lane q: the 4 partial sums of v[4m + q]
    b[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0x88),
                         _mm512_shuffle_f32x4(a[2 * m], a[2 * m + 1], 0xDD));
  // 128-bit lane q: halves of v[q], v[4+q] (c0) and v[8+q], v[12+q] (c1), then their totals.
  const __m512 c0 = _mm512_add_ps(_mm512_unpacklo_ps(b[0], b[1]), _mm512_unpackhi_ps(b[0], b[1]));
  const __m512 c1 = _mm512_add_ps(_mm512_unpacklo_ps(b[2], b[3]), _mm512_unpackhi_ps(b[2], b[3]));
  const __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(c0), _mm512_castps_pd(c1));
  const __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(c0), _mm512_castps_pd(c1));
  return _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
}

// Writes (or adds, when accumulate) the first n lanes of v to y.
[[gnu::always_inline]] inline void store_sums(__m512 v, float* y, int n, bool accumulate) {
  const __mmask16 m = __mmask16((1u << n) - 1);
  if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, y));
  _mm512_mask_storeu_ps(y, m, v);
}

// ================================================================================================
// Weights: one group of 8 blocks unpacked into the lane layout
// ================================================================================================

struct WeightGroup {
  __m512i q[4];  // unsigned quants, lane layout above
  __m512 d;      // per lane: the block's scale
  __m512 m;      // per lane: the block's min ("_1" types only)
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
  static constexpr int kOffset = 128, kQs = offsetof(Block, qs), kM = -1, kQh = -1;
};
template <DType W> constexpr bool kHasMin = Weight<W>::kM >= 0;
// The activation type a weight type is multiplied with (the reference engine's vec_dot_type on x86).
template <DType W> constexpr DType kActType = kHasMin<W> ? DType::Q8_1 : DType::Q8_0;

// Adds 16 to the quants whose fifth bit is set; qh: per dword lane, the qh word of the lane's block.
[[gnu::always_inline]] inline void add_high_bits(__m512i q[4], __m512i qh) {
  static constexpr std::array<std::array<uint8_t, 64>, 4> kShuffle = {high_bit_shuffle(0), high_bit_shuffle(1),
                                                                     high_bit_shuffle(2), high_bit_shuffle(3)};
  static constexpr auto kMask = high_bit_mask();
  const __m512i mask = load_table(kMask), sixteen = _mm512_set1_epi8(16);
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) {
    const __mmask64 set = _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, load_table(kShuffle[r])), mask);
    q[r] = _mm512_mask_add_epi8(q[r], set, q[r], sixteen);
  }
}

// Unpacks the 8 consecutive blocks of type W at `blocks`.
template <DType W>
[[gnu::always_inline]] inline WeightGroup unpack(const uint8_t* blocks) {
  using T = Weight<W>;
  constexpr size_t S = sizeof(typename T::Block);
  WeightGroup g;
  const GroupRegs<S> regs(blocks);
  if constexpr (kHasMin<W>)
    lane_f16<S, 0, T::kM>(regs, g.d, g.m);  // d is the first field of every legacy block
  else
    g.d = lane_scales<S>(regs);
  if constexpr (W == DType::Q8_0) {
    lanes_of_32_bytes(blocks, S, T::kQs, g.q);
    const __m512i flip = _mm512_set1_epi8(char(0x80));
#pragma GCC unroll 4
    for (__m512i& q : g.q) q = _mm512_xor_si512(q, flip);
  } else {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i z0 = blocks_16_bytes(blocks, S, T::kQs, 0);  // qs of blocks 0..3
    const __m512i z1 = blocks_16_bytes(blocks, S, T::kQs, 4);  // qs of blocks 4..7
    const __m512i first = _mm512_unpacklo_epi64(z0, z1);   // qs bytes 0..7 in the lane layout
    const __m512i second = _mm512_unpackhi_epi64(z0, z1);  // qs bytes 8..15
    g.q[0] = _mm512_and_si512(first, low4);                          // elements 0..7
    g.q[1] = _mm512_and_si512(_mm512_srli_epi16(first, 4), low4);    // elements 16..23
    g.q[2] = _mm512_and_si512(second, low4);                         // elements 8..15
    g.q[3] = _mm512_and_si512(_mm512_srli_epi16(second, 4), low4);   // elements 24..31
    if constexpr (T::kQh >= 0) add_high_bits(g.q, gather_words<S, lane_u32_src(int(S), T::kQh)>(regs));
  }
  return g;
}

// ================================================================================================
// Activations: one group of 8 Q8_0 / Q8_1 blocks in the lane layout
// ================================================================================================

struct alignas(64) ActGroup {
  __m512i q[4];  // signed quants, lane layout
  __m512 d;      // per lane: the block's scale
  __m512i c;     // offset weights: int32 -offset * (sum of the lane's quants);
                 // "_1" weights: float s of the block in its first lane (j even), 0 in the other
};

template <DType A> struct Act;
template <> struct Act<DType::Q8_0> { using Block = block_q8_0; };
template <> struct Act<DType::Q8_1> { using Block = block_q8_1; };

// Rearranges 8 consecutive activation blocks for weights of type W.
template <DType W>
[[gnu::always_inline]] inline void prepare_group(const uint8_t* blocks, ActGroup& out) {
  using Block = typename Act<kActType<W>>::Block;
  constexpr size_t S = sizeof(Block);
  lanes_of_32_bytes(blocks, S, offsetof(Block, qs), out.q);
  __m512 s;
  lane_f16<S, 0, 2>(GroupRegs<S>(blocks), out.d, s);  // bytes 2..3 are s for Q8_1 (unused for Q8_0)
  if constexpr (kHasMin<W>) {
    out.c = _mm512_castps_si512(_mm512_maskz_mov_ps(0x5555, s));
  } else {
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (const __m512i& q : out.q) sum = _mm512_dpbusd_epi32(sum, ones, q);
    out.c = _mm512_mullo_epi32(sum, _mm512_set1_epi32(-Weight<W>::kOffset));
  }
}

// Rearranges one activation row of n_blocks blocks into ceil(n_blocks / 8) groups (the last zero-padded).
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
[[gnu::always_inline]] inline __m512 dot_group(const WeightGroup& w, const ActGroup& a, __m512 acc) {
  __m512i sum = kHasMin<W> ? _mm512_setzero_si512() : a.c;
#pragma GCC unroll 4
  for (int r = 0; r < 4; ++r) sum = _mm512_dpbusd_epi32(sum, w.q[r], a.q[r]);
  acc = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(sum), a.d), w.d, acc);
  if constexpr (kHasMin<W>) acc = _mm512_fmadd_ps(_mm512_castsi512_ps(a.c), w.m, acc);
  return acc;
}

// The K dimension is summed in chunks of kChunkGroups groups: each chunk's per-lane sums are reduced (sum16) and
// added to y on their own. The chunk size is a constant, not a function of the batch, so that a token's sums never
// depend on the batch it is in. A "pass" is the run of whole chunks whose prepared activations fit in the scratch for
// every token of the tile: for a few tokens that is the whole row, which is then read from start to end in one go.
constexpr int kMaxTile = 16;                                  // tokens whose accumulators live in registers
constexpr int64_t kScratchGroups = 160;                       // prepared activation groups on the stack (60 KiB)
constexpr int kChunkGroups = int(kScratchGroups / kMaxTile);  // 10 groups = 80 blocks

struct Pass {
  const uint8_t* w;     // weight row 0, at the pass's first block
  size_t w_row_bytes;
  int64_t n_rows;
  int64_t n_blocks;     // blocks in the pass: whole chunks, except at the end of the row
  int64_t n_groups;     // ceil(n_blocks / 8)
  const ActGroup* act;  // [token][n_groups]
  float* y;             // y[t * y_stride + r]
  int64_t y_stride;
  bool accumulate;      // add to y (a later pass) instead of overwriting it
};

// Rows multiplied together. Each row is its own memory stream: one sequential stream per core leaves much of the
// memory bandwidth unused (about 16 GB/s for one thread against 21 GB/s with 4+ streams), and the rows give
// independent accumulator chains. Larger tiles are compute-bound and take one row at a time.
template <int NT> constexpr int kRowsAtOnce = NT <= 2 ? 4 : NT <= 4 ? 2 : 1;
// Software prefetch distance, in rows: the rows of the next set, read while this one is computed (the hardware
// prefetcher alone ramps up too slowly on rows of a few KiB).
template <int NT> constexpr int kPrefetchRows = 2 * kRowsAtOnce<NT>;

// Adds groups [g0, g1) of R rows times NT tokens to acc[row][token].
template <DType W, int NT, int R>
[[gnu::always_inline]] inline void rows_dot(const Pass& p, const uint8_t* const rows[R], int64_t g0, int64_t g1,
                                            __m512 acc[R][NT]) {
  using Block = typename Weight<W>::Block;
  constexpr int kGroupBytes = kGroupBlocks * int(sizeof(Block));
  const int64_t full = p.n_blocks / kGroupBlocks, rem = p.n_blocks % kGroupBlocks;
  const size_t prefetch = size_t(kPrefetchRows<NT>) * p.w_row_bytes;
  for (int64_t g = g0; g < (g1 < full ? g1 : full); ++g) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint8_t* src = rows[r] + g * kGroupBytes;
#pragma GCC unroll 5
      for (int b = 0; b < kGroupBytes; b += 64) _mm_prefetch(reinterpret_cast<const char*>(src + prefetch + b), _MM_HINT_T0);
      const WeightGroup wg = unpack<W>(src);
#pragma GCC unroll 16
      for (int i = 0; i < NT; ++i) acc[r][i] = dot_group<W>(wg, p.act[i * p.n_groups + g], acc[r][i]);
    }
  }
  if (rem > 0 && g1 > full) {  // the row's last, partial group: padded with zero blocks (zero scales add nothing)
    for (int r = 0; r < R; ++r) {
      Block tail[kGroupBlocks] = {};
      std::memcpy(tail, rows[r] + full * kGroupBytes, size_t(rem) * sizeof(Block));
      const WeightGroup wg = unpack<W>(reinterpret_cast<const uint8_t*>(tail));
#pragma GCC unroll 16
      for (int i = 0; i < NT; ++i) acc[r][i] = dot_group<W>(wg, p.act[i * p.n_groups + full], acc[r][i]);
    }
  }
}

template <DType W, int NT>
void gemm_tile(const Pass& p) {
  constexpr int R = kRowsAtOnce<NT>;
  static_assert(kRowBlock % R == 0);
  constexpr int kMaxChunks = int(kScratchGroups / (NT * kChunkGroups));
  const int64_t n_chunks = (p.n_groups + kChunkGroups - 1) / kChunkGroups;
  __m512 sums[kMaxChunks][NT][kRowBlock];  // [chunk][token][row_slot(row in block)]: sums awaiting reduction
  for (int64_t r0 = 0; r0 < p.n_rows; r0 += kRowBlock) {
    const int rows = p.n_rows - r0 < kRowBlock ? int(p.n_rows - r0) : kRowBlock;
    for (int i = 0; i < kRowBlock; i += R) {
      if (i >= rows) {
        for (int64_t c = 0; c < n_chunks; ++c)
          for (int k = 0; k < NT; ++k)
            for (int r = 0; r < R; ++r) sums[c][k][row_slot(i + r)] = _mm512_setzero_ps();
        continue;
      }
      const uint8_t* row_ptr[R];  // rows past the end repeat the last row; their sums are dropped
      for (int r = 0; r < R; ++r) row_ptr[r] = p.w + (i + r < rows ? r0 + i + r : r0 + rows - 1) * p.w_row_bytes;
      for (int64_t c = 0; c < n_chunks; ++c) {
        __m512 acc[R][NT];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
          for (int k = 0; k < NT; ++k) acc[r][k] = _mm512_setzero_ps();
        rows_dot<W, NT, R>(p, row_ptr, c * kChunkGroups, std::min<int64_t>((c + 1) * kChunkGroups, p.n_groups), acc);
        for (int r = 0; r < R; ++r)
          for (int k = 0; k < NT; ++k) sums[c][k][row_slot(i + r)] = i + r < rows ? acc[r][k] : _mm512_setzero_ps();
      }
    }
    for (int64_t c = 0; c < n_chunks; ++c)
      for (int k = 0; k < NT; ++k)
        store_sums(sum16(sums[c][k]), p.y + k * p.y_stride + r0, rows, p.accumulate || c > 0);
  }
}

template <DType W, size_t... I>
constexpr auto make_tile_fns(std::index_sequence<I...>) {
  return std::array<void (*)(const Pass&), sizeof...(I)>{&gemm_tile<W, int(I) + 1>...};
}
template <DType W> constexpr auto kTileFns = make_tile_fns<W>(std::make_index_sequence<kMaxTile>());

// ================================================================================================
// Conversions
// ================================================================================================

// 32 quants of one block as two vectors of 16 int32 (elements 0..15, 16..31), offset removed.
template <DType W>
inline void block_ints(const uint8_t* block, __m512i& lo, __m512i& hi) {
  using T = Weight<W>;
  if constexpr (W == DType::Q8_0) {
    lo = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + T::kQs)));
    hi = _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + T::kQs + 16)));
  } else {
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + T::kQs));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    lo = _mm512_cvtepu8_epi32(_mm_and_si128(qs, low4));
    hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(qs, 4), low4));
    if constexpr (T::kQh >= 0) {
      uint32_t qh;
      std::memcpy(&qh, block + T::kQh, 4);
      const __m512i sixteen = _mm512_set1_epi32(16);
      lo = _mm512_mask_add_epi32(lo, __mmask16(qh), lo, sixteen);
      hi = _mm512_mask_add_epi32(hi, __mmask16(qh >> 16), hi, sixteen);
    }
    if constexpr (T::kOffset != 0) {
      lo = _mm512_sub_epi32(lo, _mm512_set1_epi32(T::kOffset));
      hi = _mm512_sub_epi32(hi, _mm512_set1_epi32(T::kOffset));
    }
  }
}

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// Quantizes one block of 32 floats to Q8 (see legacy_kernels.h); returns the unrounded d and the sum of quants.
inline float quantize_q8_block(const float* x, int8_t* q, int& sum) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float d = amax / 127.0f;
  const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
  const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));  // MXCSR default: round half to even
  const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(q1));
  sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  return d;
}

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
    __m512i lo, hi;
    block_ints<W>(x, lo, hi);
    const __m512 d = _mm512_set1_ps(load_f16(x));
    __m512 f0 = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d), f1 = _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d);
    if constexpr (kHasMin<W>) {
      const __m512 m = _mm512_set1_ps(load_f16(x + T::kM));
      f0 = _mm512_add_ps(f0, m);
      f1 = _mm512_add_ps(f1, m);
    }
    _mm512_storeu_ps(y, f0);
    _mm512_storeu_ps(y + 16, f1);
  }
}

template <>
void to_float<DType::Q8_1>(const void* vx, float* y, int64_t n) {
  const auto* x = static_cast<const block_q8_1*>(vx);
  for (int64_t i = 0; i < n / 32; ++i) {
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(x[i].d));
    const __m128i* qs = reinterpret_cast<const __m128i*>(x[i].qs);
    _mm512_storeu_ps(y + 32 * i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs))), d));
    _mm512_storeu_ps(y + 32 * i + 16,
                     _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(qs + 1))), d));
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
    const int64_t pass_blocks = kScratchGroups / (nt * kChunkGroups) * kChunkGroups * kGroupBlocks;
    for (int64_t b0 = 0; b0 < nb; b0 += pass_blocks) {
      const int64_t n_blocks = nb - b0 < pass_blocks ? nb - b0 : pass_blocks;
      const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
      const auto* xb = static_cast<const uint8_t*>(x) + t0 * x_row_bytes + b0 * sizeof(ABlock);
      for (int64_t i = 0; i < nt; ++i) prepare_row<W>(xb + i * x_row_bytes, n_blocks, scratch + i * n_groups);
      const Pass pass{static_cast<const uint8_t*>(w) + b0 * sizeof(Block), w_row_bytes, n_rows, n_blocks, n_groups,
                      scratch, y + t0 * y_stride, y_stride, b0 > 0};
      kTileFns<W>[nt - 1](pass);
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

}  // namespace amusd::kernels::legacy::avx512
