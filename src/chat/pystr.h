// Python `str` semantics over UTF-8 text, as the chat-template interpreter needs them: strings are indexed, sliced
// and measured in code points, stripped of Unicode white space, case-mapped, and printed with Python's repr().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace amusd::chat::py {

// ---- code points ------------------------------------------------------------------------------------------------

// Code points of UTF-8 text. A byte that does not start a valid sequence becomes U+DC80 + (byte - 0x80), as Python's
// surrogateescape does, so encode(decode(s)) == s for any bytes.
std::u32string decode(std::string_view s);
std::string encode(std::u32string_view cps);
void append_utf8(std::string& out, char32_t cp);
size_t length(std::string_view s);  // len(s): number of code points
// The code point at s[pos] and, in len, its length in bytes (1 for a byte that starts no valid sequence, which
// decodes as in decode()). requires: pos < s.size()
char32_t code_point_at(std::string_view s, size_t pos, size_t& len);

// ---- character classes ------------------------------------------------------------------------------------------

bool is_space(char32_t cp);      // str.isspace(): Unicode white space plus the separators U+001C..U+001F
bool is_printable(char32_t cp);  // str.isprintable(): not a control, format, unassigned or separator (but ' ')
char32_t to_upper(char32_t cp);  // simple case mapping: ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic
char32_t to_lower(char32_t cp);

// ---- str methods (arguments as in Python; std::nullopt stands for None) -----------------------------------------

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// requires: sep is nullopt or not empty; maxsplit < 0 means no limit
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);  // first character upper case, the rest lower case
std::string title(std::string_view s);       // str.title(): upper case after every uncased character

// ---- printing ---------------------------------------------------------------------------------------------------

// repr() of a str: single quotes unless the text holds ' and no ", escapes for \\ \n \r \t and unprintable code points.
std::string repr(std::string_view s);
// repr() of a float: the shortest text that reads back the same, fixed notation for exponents -4..15 ("1.0", "0.001",
// "1e+16", "1.5e-05"), "inf", "-inf", "nan".
std::string format_float(double v);
// json.dumps() of a str: quoted, with \" \\ \n \r \t \b \f and \u00XX for other control characters; ensure_ascii also
// writes every non-ASCII code point as \uXXXX (UTF-16 surrogate pairs above U+FFFF).
std::string json_quote(std::string_view s, bool ensure_ascii);

}  // namespace amusd::chat::py
