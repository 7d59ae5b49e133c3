#include "chat/lexer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "chat/pystr.h"

namespace amusd::chat {

namespace {

// jinja2 reads every line break as "\n" and, with keep_trailing_newline=False, drops one trailing newline.
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out.push_back(src[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  Lexer(std::string_view source, const SyntaxOptions& options) : src_(normalize_newlines(source)), opt_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t p = 0;
    while (p < src_.size()) p = lex_text_and_tag(p);
    add(TokenKind::kEnd, src_.size());
    return std::move(tokens_);
  }

 private:
  const std::string src_;  // the normalized source
  const SyntaxOptions opt_;
  std::vector<size_t> line_starts_;  // byte offset of each line's first character
  std::vector<Token> tokens_;
  Pos last_;                // the position pos_at() returned last, at offset last_offset_
  size_t last_offset_ = 0;

  // ---- helpers ----

  // Line and column of a source offset. Tokens come in source order, so the column is counted on from the previous
  // position when it is on the same line: lexing stays linear even when the whole template is one long line.
  Pos pos_at(size_t offset) {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());  // 1-based
    const size_t start = line_starts_[line - 1];
    if (line != last_.line || offset < last_offset_) {
      last_offset_ = start;
      last_ = Pos{static_cast<uint32_t>(line), 1};
    }
    last_.column += static_cast<uint32_t>(py::length(std::string_view(src_).substr(last_offset_, offset - last_offset_)));
    last_offset_ = offset;
    return last_;
  }

  Token& add(TokenKind kind, size_t offset, std::string text = {}) {
    Token t;
    t.kind = kind;
    t.text = std::move(text);
    t.pos = pos_at(offset);
    tokens_.push_back(std::move(t));
    return tokens_.back();
  }

  bool starts(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  // Past Python white space (regex \s) starting at p.
  size_t skip_space(size_t p) const {
    while (p < src_.size()) {
      size_t len = 0;
      if (!py::is_space(py::code_point_at(src_, p, len))) break;
      p += len;
    }
    return p;
  }

  bool all_space(std::string_view s) const {
    for (size_t p = 0; p < s.size();) {
      size_t len = 0;
      if (!py::is_space(py::code_point_at(s, p, len))) return false;
      p += len;
    }
    return true;
  }

  // ---- text and tags ----

  // Emits the text before a tag, trimmed as the tag's modifier and lstrip_blocks say. text_begin: where the text
  // starts in src_ (a text that starts a line may lose its indentation even without a newline in it).
  void add_text(size_t text_begin, size_t text_end, char modifier, bool strippable_tag) {
    std::string text = src_.substr(text_begin, text_end - text_begin);
    if (modifier == '-') {
      text = py::strip(text, std::nullopt, false, true);
    } else if (modifier != '+' && opt_.lstrip_blocks && strippable_tag) {
      const size_t nl = text.rfind('\n');
      const size_t line_begin = nl == std::string::npos ? 0 : nl + 1;
      const bool line_starting = text_begin == 0 || src_[text_begin - 1] == '\n';
      if ((nl != std::string::npos || line_starting) && line_begin < text.size() &&
          all_space(std::string_view(text).substr(line_begin)))
        text.resize(line_begin);
    }
    if (!text.empty()) add(TokenKind::kText, text_begin, std::move(text));
  }

  // Lexes the text from p up to the next tag and the tag itself; returns the offset after them.
  size_t lex_text_and_tag(size_t p) {
    size_t open = p;
    while (true) {
      open = src_.find('{', open);
      if (open == std::string::npos || open + 1 >= src_.size()) {
        add_text(p, src_.size(), 0, false);
        return src_.size();
      }
      const char c = src_[open + 1];
      if (c == '{' || c == '%' || c == '#') break;
      ++open;
    }
    const char kind = src_[open + 1];
    const char modifier = open + 2 < src_.size() && (src_[open + 2] == '-' || src_[open + 2] == '+') ? src_[open + 2] : 0;
    const size_t body = open + 2 + (modifier ? 1 : 0);
    if (kind == '%' && raw_begin_end(body)) {
      add_text(p, open, modifier, true);
      return lex_raw(open, *raw_begin_end(body));
    }
    add_text(p, open, modifier, kind != '{');
    if (kind == '#') return lex_comment(open, body);
    add(kind == '{' ? TokenKind::kVarBegin : TokenKind::kBlockBegin, open);
    return lex_tag(open, body, kind);
  }

  // After "{#": skips to the end of the comment.
  size_t lex_comment(size_t open, size_t body) {
    const size_t close = src_.find("#}", body);
    if (close == std::string::npos) syntax_error(pos_at(open), "missing end of comment tag");
    return after_block_end(close > body ? src_[close - 1] : 0, close + 2);
  }

  // Where the text continues after a block or comment end whose modifier is `modifier` and which ends before `p`.
  size_t after_block_end(char modifier, size_t p) const {
    if (modifier == '-') return skip_space(p);
    if (modifier != '+' && opt_.trim_blocks && p < src_.size() && src_[p] == '\n') return p + 1;
    return p;
  }

  // If "{%[-+]" is followed by `raw` and the end of the tag, returns the offset after the tag (and, for "-%}", the
  // white space after it).
  std::optional<size_t> raw_begin_end(size_t body) const {
    size_t q = skip_space(body);
    if (!starts(q, "raw")) return std::nullopt;
    q = skip_space(q + 3);
    if (starts(q, "-%}")) return skip_space(q + 3);
    if (starts(q, "%}")) return q + 2;
    return std::nullopt;
  }

  // {% raw %}text{% endraw %}: the text is kept as it is.
  size_t lex_raw(size_t open, size_t content) {
    for (size_t e = src_.find("{%", content); e != std::string::npos; e = src_.find("{%", e + 1)) {
      const char modifier = e + 2 < src_.size() && (src_[e + 2] == '-' || src_[e + 2] == '+') ? src_[e + 2] : 0;
      size_t q = skip_space(e + 2 + (modifier ? 1 : 0));
      if (!starts(q, "endraw")) continue;
      q = skip_space(q + 6);
      char end_modifier = 0;
      if (starts(q, "-%}") || starts(q, "+%}")) {
        end_modifier = src_[q];
        ++q;
      }
      if (!starts(q, "%}")) continue;
      add_text(content, e, modifier, true);
      return after_block_end(end_modifier, q + 2);
    }
    syntax_error(pos_at(open), "missing end of raw directive");
  }

  // The tokens inside {{ }} or {% %}, up to and including the closing delimiter; returns the offset after it.
  size_t lex_tag(size_t open, size_t p, char kind) {
    std::vector<char> closers;  // expected closing brackets; end delimiters only count when none are open
    while (true) {
      p = skip_space(p);
      if (p >= src_.size())
        syntax_error(pos_at(open), "unexpected end of template: this ", kind == '{' ? "{{" : "{%", " is never closed");
      if (closers.empty()) {
        if (kind == '%') {
          for (std::string_view end : {"-%}", "+%}", "%}"}) {
            if (!starts(p, end)) continue;
            add(TokenKind::kBlockEnd, p);
            return after_block_end(end.size() == 3 ? end[0] : 0, p + end.size());
          }
        } else {
          if (starts(p, "-}}")) {
            add(TokenKind::kVarEnd, p);
            return skip_space(p + 3);
          }
          if (starts(p, "}}")) {
            add(TokenKind::kVarEnd, p);
            return p + 2;
          }
        }
      }
      p = lex_token(p, closers);
    }
  }

  size_t lex_token(size_t p, std::vector<char>& closers) {
    const char c = src_[p];
    if (is_digit(c)) return lex_number(p);
    if (is_name_start(c)) {
      size_t q = p;
      while (q < src_.size() && is_name_char(src_[q])) ++q;
      add(TokenKind::kName, p, src_.substr(p, q - p));
      return q;
    }
    if (c == '\'' || c == '"') return lex_string(p);
    for (std::string_view op : {"//", "**", "==", "!=", ">=", "<="}) {
      if (starts(p, op)) {
        add(TokenKind::kOp, p, std::string(op));
        return p + 2;
      }
    }
    static constexpr std::string_view kSingle = "+-/*%~[](){}><=.:|,;";
    if (kSingle.find(c) == std::string_view::npos) {
      size_t len = 0;
      const char32_t cp = py::code_point_at(src_, p, len);
      std::string shown;
      py::append_utf8(shown, cp);
      syntax_error(pos_at(p), "unexpected character ", py::repr(shown));
    }
    if (c == '(' || c == '[' || c == '{') closers.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    if (c == ')' || c == ']' || c == '}') {
      if (closers.empty()) syntax_error(pos_at(p), "unexpected '", c, "'");
      if (closers.back() != c) syntax_error(pos_at(p), "unexpected '", c, "', expected '", closers.back(), "'");
      closers.pop_back();
    }
    add(TokenKind::kOp, p, std::string(1, c));
    return p + 1;
  }

  // Digits with single underscores between them, from p; returns the end (p if there is no digit).
  size_t scan_digits(size_t p, int base = 10) const {
    auto ok = [&](char c) { return hex_value(c) >= 0 && hex_value(c) < base; };
    if (p >= src_.size() || !ok(src_[p])) return p;
    size_t q = p + 1;
    while (q < src_.size()) {
      if (ok(src_[q])) {
        ++q;
      } else if (src_[q] == '_' && q + 1 < src_.size() && ok(src_[q + 1])) {
        q += 2;
      } else {
        break;
      }
    }
    return q;
  }

  size_t lex_number(size_t p) {
    // 0x / 0o / 0b integers
    if (src_[p] == '0' && p + 1 < src_.size()) {
      const char b = static_cast<char>(src_[p + 1] | 0x20);
      const int base = b == 'x' ? 16 : b == 'o' ? 8 : b == 'b' ? 2 : 0;
      size_t start = p + 2 + (p + 2 < src_.size() && src_[p + 2] == '_');
      if (base && scan_digits(start, base) > start) return add_int(p, start, scan_digits(start, base), base);
    }
    size_t q = scan_digits(p);
    bool is_float = false;
    const bool after_dot = p > 0 && src_[p - 1] == '.';  // jinja2: a float never follows a dot (x.0.1)
    if (!after_dot) {
      if (q + 1 < src_.size() && src_[q] == '.' && is_digit(src_[q + 1])) {
        q = scan_digits(q + 1);
        is_float = true;
      }
      if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
        size_t r = q + 1;
        if (r < src_.size() && (src_[r] == '+' || src_[r] == '-')) ++r;
        if (scan_digits(r) > r) {
          q = scan_digits(r);
          is_float = true;
        }
      }
    }
    if (!is_float) return add_int(p, p, q, 10);
    std::string digits;
    for (size_t i = p; i < q; ++i)
      if (src_[i] != '_') digits.push_back(src_[i]);
    double v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range) {  // Python: overflow gives inf, underflow 0.0
      const size_t e = digits.find_first_of("eE");
      v = (e != std::string::npos && e + 1 < digits.size() && digits[e + 1] == '-') ? 0.0 : HUGE_VAL;
    }
    add(TokenKind::kFloat, p).float_value = v;
    return q;
  }

  size_t add_int(size_t token_begin, size_t begin, size_t end, int base) {
    int64_t v = 0;
    for (size_t i = begin; i < end; ++i) {
      if (src_[i] == '_') continue;
      if (__builtin_mul_overflow(v, base, &v) || __builtin_add_overflow(v, hex_value(src_[i]), &v))
        syntax_error(pos_at(token_begin), "integer literal too large");
    }
    add(TokenKind::kInt, token_begin).int_value = v;
    return end;
  }

  // A quoted string with Python escapes (jinja2 decodes literals with Python's unicode-escape codec).
  size_t lex_string(size_t p) {
    const char quote = src_[p];
    std::string value;
    size_t q = p + 1;
    while (true) {
      if (q >= src_.size()) syntax_error(pos_at(p), "unterminated string literal");
      const char c = src_[q];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) syntax_error(pos_at(p), "unterminated string literal");
      q = decode_escape(q, p, value);
    }
    add(TokenKind::kString, p, std::move(value));
    return q + 1;
  }

  // Decodes the escape at src_[q] == '\\' into out; returns the offset after it.
  size_t decode_escape(size_t q, size_t literal, std::string& out) {
    const char e = src_[q + 1];
    switch (e) {
      case '\n': return q + 2;  // line continuation
      case '\\': out.push_back('\\'); return q + 2;
      case '\'': out.push_back('\''); return q + 2;
      case '"': out.push_back('"'); return q + 2;
      case 'a': out.push_back('\a'); return q + 2;
      case 'b': out.push_back('\b'); return q + 2;
      case 'f': out.push_back('\f'); return q + 2;
      case 'n': out.push_back('\n'); return q + 2;
      case 'r': out.push_back('\r'); return q + 2;
      case 't': out.push_back('\t'); return q + 2;
      case 'v': out.push_back('\v'); return q + 2;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t i = 0; i < digits; ++i) {
          const int h = q + 2 + i < src_.size() ? hex_value(src_[q + 2 + i]) : -1;
          if (h < 0) syntax_error(pos_at(literal), "truncated \\", e, " escape in string literal");
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF) syntax_error(pos_at(literal), "illegal Unicode character in string literal");
        py::append_utf8(out, cp);
        return q + 2 + digits;
      }
      case 'N': syntax_error(pos_at(literal), "\\N{...} escapes are not supported");
      default: break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t cp = 0;
      size_t i = q + 1;
      for (; i < q + 4 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++i) cp = cp * 8 + (src_[i] - '0');
      py::append_utf8(out, cp);
      return i;
    }
    out.push_back('\\');  // unknown escapes stay as written
    return q + 1;
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const SyntaxOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace amusd::chat
