// Unicode helpers for the tokenizers: code point flags (category group, white space) from the generated tables,
// UTF-8 decoding with the reference engine's rules, and GPT-2's byte <-> code point mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace amusd::tok::unicode {

// Per-code-point flags: exactly one category group bit, plus kWhitespace for Unicode White_Space.
// Values are fixed by scripts/gen_unicode_data.py.
enum Flag : uint8_t {
  kLetter = 1,       // \p{L}
  kNumber = 2,       // \p{N}
  kPunctuation = 4,  // \p{P}
  kSymbol = 8,       // \p{S}
  kMark = 16,        // \p{M}
  kSeparator = 32,   // \p{Z}
  kOther = 64,       // \p{C} (control, format, surrogate, private use, unassigned)
  kWhitespace = 128, // \s: Unicode White_Space (\t..\r, space, U+0085, U+00A0, U+1680, U+2000..U+200A, ...)
};

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kReplacement = 0xFFFD;

// Flags of a code point (kOther above U+10FFFF).
uint8_t flags(uint32_t cp);

// One decoded UTF-8 sequence. The rules are the reference engine's: a lead byte announces 1..4 bytes, the following
// bytes must be continuation bytes (10xxxxxx); anything else is one invalid byte, decoded as U+FFFD.
struct Decoded {
  uint32_t cp;   // the code point, or kReplacement when !valid
  uint32_t len;  // bytes consumed: 1..4 (1 when !valid)
  bool valid;
};
// requires: pos < s.size()
Decoded decode(std::string_view s, size_t pos);

// Length announced by a lead byte (1 for ASCII and for bytes that cannot start a sequence), from its high nibble:
// 0xxx -> 1, 10xx -> 1, 110x -> 2, 1110 -> 3, 1111 -> 4. Used to split text into characters without validation.
inline size_t sequence_length(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Appends the UTF-8 encoding of cp (requires cp <= kMaxCodePoint).
void append_utf8(std::string& out, uint32_t cp);

// GPT-2 byte-level BPE alphabet: every byte is represented by one printable code point ('!'..'~', '¡'..'¬',
// '®'..'ÿ' stand for themselves, the other 68 bytes map to U+0100..U+0143 in byte order).
uint32_t byte_to_code_point(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 if it is not part of it.
int code_point_to_byte(uint32_t cp);

}  // namespace amusd::tok::unicode
