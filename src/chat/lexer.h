// Lexer for the Jinja subset: splits a template into text and tag tokens, applying Jinja's whitespace control
// ({%- -%} {{- -}} {#- -#}, trim_blocks, lstrip_blocks) exactly as jinja2's lexer does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chat/options.h"
#include "core/error.h"

namespace amusd::chat {

// A place in the template source: 1-based line and column (columns count code points).
struct Pos {
  uint32_t line = 0;
  uint32_t column = 0;
};

// Throws amusd::Error "chat template syntax error at line L, column C: <message>".
template <class... Args>
[[noreturn]] void syntax_error(Pos pos, const Args&... args) {
  fail("chat template syntax error at line ", pos.line, ", column ", pos.column, ": ", args...);
}

enum class TokenKind {
  kText,        // literal template text (text: after whitespace control)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier (text)
  kString,      // string literal (text: the decoded value)
  kInt,         // integer literal (int_value)
  kFloat,       // float literal (float_value)
  kOp,          // operator or punctuation (text: "+", "//", "(", ...)
  kEnd,         // end of the template
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  Pos pos;
};

// Tokens of a whole template, ending with kEnd. The source is first normalized as jinja2 does: "\r\n" and "\r" become
// "\n", and one trailing newline is dropped. {% raw %}...{% endraw %} becomes a kText token; comments disappear.
// Throws amusd::Error (syntax error with position) for unterminated tags, strings or comments, unbalanced brackets
// and characters that start no token.
std::vector<Token> tokenize(std::string_view source, const SyntaxOptions& options);

}  // namespace amusd::chat
