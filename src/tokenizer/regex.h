// A small backtracking regex engine over code points: exactly what the pre-tokenizer patterns of byte-level BPE
// vocabularies need, with the semantics of ECMAScript / PCRE (ordered alternation, greedy quantifiers).
//
// Supported syntax:
//   literals (UTF-8), escapes \r \n \t \f \v \0 \\ \. and any other escaped punctuation;
//   \s \S (Unicode White_Space), \d ([0-9]), \p{X} \P{X} for X in L N P S M Z C (category groups);
//   classes [...] and [^...] with ranges (a-z, 一-龥), the escapes above and \p{..} inside;
//   groups (...) (non-capturing in effect), (?:...), (?i:...) (ASCII case-insensitive), lookahead (?=...) (?!...);
//   alternation |; greedy quantifiers ? * + {n} {n,} {n,m}; anchors ^ $ (start / end of the searched fragment).
// Not supported (rejected with an Error): lazy or possessive quantifiers, backreferences, lookbehind, '.', and
// repeating a sub-pattern that can match the empty string.
//
// One quirk of the reference engine is reproduced on purpose: it matches explicit characters and ranges against
// the text with every non-ASCII white space code point replaced by U+000B, so such a code point never matches a
// literal or a range (only \s, \p{..} and negated classes can see it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace amusd::tok::detail {

// A UTF-8 text as code points, with what matching needs per code point.
struct CodePoints {
  std::vector<uint32_t> cp;           // [n] code points; an invalid UTF-8 byte is one U+FFFD
  std::vector<uint8_t> flags;         // [n] unicode::flags(cp[i])
  std::vector<uint32_t> byte_offset;  // [n + 1] offset of code point i in the UTF-8 text; byte_offset[n] = size

  // requires: text.size() < 2^32
  static CodePoints from_utf8(std::string_view text);
  size_t size() const { return cp.size(); }
};

// A range [begin, end) of code point indices.
struct Span {
  uint32_t begin = 0, end = 0;
};

// A set of code points: a character class, an escape like \s, or one literal character.
class CharClass {
 public:
  void add_range(uint32_t lo, uint32_t hi);  // literal code points lo..hi
  void add_flags(uint8_t f);                 // code points with any of the unicode::Flag bits f
  void add_not_flags(uint8_t f);             // code points with none of the bits f (\S, \P{X})
  void add_ascii_other_case();               // for (?i): adds the other case of the ASCII letters present
  void negate() { negated_ = !negated_; }
  void finish();                             // precomputes the ASCII table; call once after the adds

  // Bits of the ASCII code points the class matches: bit (cp & 63) of word cp >> 6.
  const uint64_t* ascii_bits() const { return ascii_; }

  bool matches(uint32_t cp, uint8_t flags) const {
    if (cp < 128) return (ascii_[cp >> 6] >> (cp & 63)) & 1;
    return matches_slow(cp, flags);
  }

 private:
  bool matches_slow(uint32_t cp, uint8_t flags) const;

  std::vector<std::pair<uint32_t, uint32_t>> ranges_;  // inclusive literal ranges
  std::vector<uint8_t> flag_sets_;                     // each: matches if (flags & f) != 0
  std::vector<uint8_t> not_flag_sets_;                 // each: matches if (flags & f) == 0
  bool negated_ = false;
  uint64_t ascii_[2] = {0, 0};                         // membership of U+0000..U+007F, final (negation applied)
};

class Regex {
 public:
  // Compiles a pattern (UTF-8); throws Error naming the pattern on unsupported or malformed syntax.
  explicit Regex(std::string_view pattern);

  const std::string& pattern() const { return pattern_; }

  // Length in code points of the match that starts exactly at `pos` (begin <= pos <= end), with the subject being
  // text[begin, end) (anchors and lookaheads see only that range); -1 if there is none. An empty match counts.
  int64_t match_at(const CodePoints& text, Span subject, uint32_t pos) const;

  // Splits each span of `in` as the reference engine does with std::regex_iterator: every match becomes a span, and
  // so does every run of text between matches (the search restarts one code point further where nothing matches).
  // Empty matches are ignored. Appends to `out`, in order; the spans of `out` exactly cover those of `in`.
  void split(const CodePoints& text, const std::vector<Span>& in, std::vector<Span>& out) const;

  // ---- the compiled program (public for the matcher in regex.cpp) ----
  enum class Op : uint8_t {
    kClass,       // one code point in classes[arg]
    kRepeat,      // greedy run of classes[arg], between min and max code points, backtracking one at a time
    kSplit,       // try x first, then y
    kJump,        // go to x
    kLookahead,   // run the sub-program at pc + 1 (it ends with kMatch); pass if it matches != negative; go on at x
    kAssertBegin, // pos == subject.begin
    kAssertEnd,   // pos == subject.end
    kMatch,
  };
  struct Inst {
    Op op;
    bool negative = false;  // kLookahead
    uint32_t arg = 0;       // class index
    uint32_t min = 0, max = 0;
    int32_t x = 0, y = 0;   // jump targets
    // kSplit: what the branch at x can start with, to skip it without trying: the ASCII code points it can
    // consume first (non-ASCII ones are always tried), or x_nullable if it can succeed without consuming any.
    uint64_t x_first[2] = {0, 0};
    bool x_nullable = true;
  };
  static constexpr uint32_t kUnbounded = UINT32_MAX;

 private:
  std::string pattern_;
  std::vector<CharClass> classes_;
  std::vector<Inst> program_;

  friend class RegexCompiler;
};

}  // namespace amusd::tok::detail
