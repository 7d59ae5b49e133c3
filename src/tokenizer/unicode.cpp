#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace amusd::tok::unicode {

namespace data {  // generated: unicode_data.cpp
extern const size_t kRangeCount;
extern const uint32_t kRangeStart[];
extern const uint8_t kRangeFlags[];
}  // namespace data

namespace {

uint8_t flags_from_table(uint32_t cp) {
  const uint32_t* end = data::kRangeStart + data::kRangeCount;
  const uint32_t* it = std::upper_bound(data::kRangeStart, end, cp);  // first range starting after cp
  return data::kRangeFlags[(it - data::kRangeStart) - 1];             // kRangeStart[0] == 0
}

// Flags of U+0000..U+00FF, looked up once (the common case: most text is Latin).
const std::array<uint8_t, 256>& latin1_flags() {
  static const std::array<uint8_t, 256> table = [] {
    std::array<uint8_t, 256> t{};
    for (uint32_t cp = 0; cp < 256; ++cp) t[cp] = flags_from_table(cp);
    return t;
  }();
  return table;
}

bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

}  // namespace

uint8_t flags(uint32_t cp) {
  if (cp < 256) return latin1_flags()[cp];
  if (cp > kMaxCodePoint) return kOther;
  return flags_from_table(cp);
}

Decoded decode(std::string_view s, size_t pos) {
  const auto b0 = uint8_t(s[pos]);
  if (b0 < 0x80) return {b0, 1, true};
  uint32_t len = 0, cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07;
  } else {
    return {kReplacement, 1, false};  // a continuation byte or 0xF8..0xFF
  }
  if (pos + len > s.size()) return {kReplacement, 1, false};
  for (uint32_t i = 1; i < len; ++i) {
    const auto b = uint8_t(s[pos + i]);
    if (!is_continuation(b)) return {kReplacement, 1, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, len, true};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

namespace {

// Bytes that GPT-2 represents by the code point of the same value.
bool is_self_mapped(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct ByteMaps {
  std::array<uint16_t, 256> to_cp{};    // byte -> code point
  std::array<int16_t, 0x144> to_byte{};  // code point (< U+0144) -> byte, or -1
};

const ByteMaps& byte_maps() {
  static const ByteMaps maps = [] {
    ByteMaps m;
    m.to_byte.fill(-1);
    uint32_t next = 0x100;  // the bytes that are not self-mapped take U+0100, U+0101, ... in byte order
    for (uint32_t b = 0; b < 256; ++b) {
      const uint32_t cp = is_self_mapped(b) ? b : next++;
      m.to_cp[b] = uint16_t(cp);
      m.to_byte[cp] = int16_t(b);
    }
    return m;
  }();
  return maps;
}

}  // namespace

uint32_t byte_to_code_point(uint8_t b) { return byte_maps().to_cp[b]; }

int code_point_to_byte(uint32_t cp) { return cp < 0x144 ? byte_maps().to_byte[cp] : -1; }

}  // namespace amusd::tok::unicode
