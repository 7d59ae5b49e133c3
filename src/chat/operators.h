// Python's arithmetic and comparison operators over template values (int64 instead of unbounded ints: an overflow is
// an error), with jinja2's Undefined rules: using Undefined as an operand is an error, except for == != and `in`.
#pragma once

#include "chat/ast.h"
#include "chat/value.h"

namespace amusd::chat {

class Renderer;

// a op b for the arithmetic operators and `~` (not `and` / `or`, which the evaluator short-circuits). Strings and
// lists built here are charged to the renderer's limits. Throws EvalError for unsupported operand types.
Value binary_op(BinaryOp op, const Value& a, const Value& b, Renderer& r);

// a op b for one link of a comparison chain. Throws EvalError for unordered types (`'<' not supported between ...`).
bool compare_op(CompareOp op, const Value& a, const Value& b);

// HTML escaping as markupsafe.escape: & < > ' " become entities.
std::string html_escape(std::string_view s);

}  // namespace amusd::chat
