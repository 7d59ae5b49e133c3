// Parser for the Jinja subset: tokens (lexer.h) to a syntax tree (ast.h), following jinja2's grammar and operator
// precedence. Filters and tests are resolved here, so an unknown one is a syntax error with its position.
#pragma once

#include <string_view>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace amusd::chat {

// The statements of a whole template. Throws amusd::Error "chat template syntax error at line L, column C: ..." for
// malformed input and for constructs this interpreter does not support ({% include %}, {% call %}, recursive loops,
// *args in calls, unknown filters or tests, ...).
Body parse_template(std::string_view source, const SyntaxOptions& options);

}  // namespace amusd::chat
