// Syntax tree of a parsed template. Nodes are immutable after parsing (one tree serves concurrent renders); each
// knows how to evaluate or execute itself against a Context (interpreter.h), implemented in interpreter.cpp.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/lexer.h"
#include "chat/value.h"

namespace amusd::chat {

class Context;

// Parse trees nest at most this deep (so that parsing, evaluating and destroying them cannot exhaust the stack).
constexpr int kMaxSyntaxDepth = 256;

// ---- expressions --------------------------------------------------------------------------------------------------

struct Expr {
  explicit Expr(Pos p) : pos(p) {}
  virtual ~Expr() = default;
  // The value of the expression. Errors raised inside carry this node's position unless they already have one.
  Value evaluate(Context& ctx) const;

  Pos pos;
  int depth = 1;  // 1 + depth of the deepest child, set by the parser

 protected:
  virtual Value eval(Context& ctx) const = 0;
};
using ExprPtr = std::unique_ptr<Expr>;

// Arguments as written at a call site: f(a, b, key=c).
struct ArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Literal : Expr {
  Literal(Pos p, Value v) : Expr(p), value(std::move(v)) {}
  Value eval(Context& ctx) const override;
  Value value;
};

struct NameRef : Expr {
  NameRef(Pos p, std::string n) : Expr(p), name(std::move(n)) {}
  Value eval(Context& ctx) const override;
  std::string name;
};

struct ListExpr : Expr {  // [a, b] or (a, b)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
};

struct DictExpr : Expr {  // {k: v, ...}
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

struct GetAttr : Expr {  // object.name
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr object;
  std::string name;
};

struct GetItem : Expr {  // object[key]
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr object, key;
};

struct SliceExpr : Expr {  // object[start:stop:step], each bound optional
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr object, start, stop, step;
};

struct CallExpr : Expr {  // callee(args)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr callee;
  ArgExprs args;
};

// A filter as written after `|` (also in {% filter %} and {% set x | filter %}): its function and arguments.
using FilterFn = Value (*)(Context& ctx, const Value& subject, const CallArgs& args);
struct FilterCall {
  Pos pos;
  std::string name;
  FilterFn fn = nullptr;
  ArgExprs args;
};
// Applies filters in order to a value; errors carry the position of the filter that failed.
Value apply_filters(Context& ctx, const std::vector<FilterCall>& filters, Value v);

struct FilterExpr : Expr {  // subject | name(args)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr subject;
  FilterCall filter;
};

using TestFn = bool (*)(Context& ctx, const Value& subject, const CallArgs& args);
struct TestExpr : Expr {  // subject is [not] name(args)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr subject;
  std::string name;
  TestFn fn = nullptr;
  ArgExprs args;
  bool negated = false;
};

enum class UnaryOp { kNot, kNeg, kPos };
struct UnaryExpr : Expr {
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  UnaryOp op = UnaryOp::kNot;
  ExprPtr operand;
};

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kFloorDiv, kMod, kPow, kConcat, kAnd, kOr };
struct BinaryExpr : Expr {
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs, rhs;
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };
struct CompareExpr : Expr {  // first op1 x1 op2 x2 ... (chained as in Python)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};

struct CondExpr : Expr {  // then_value if condition else else_value (else optional: Undefined)
  using Expr::Expr;
  Value eval(Context& ctx) const override;
  ExprPtr condition, then_value, else_value;
};

// ---- statements ---------------------------------------------------------------------------------------------------

enum class Flow { kNormal, kBreak, kContinue };

struct Stmt {
  explicit Stmt(Pos p) : pos(p) {}
  virtual ~Stmt() = default;
  // Runs the statement, appending its output to `out`. Errors carry this node's position unless they have one.
  Flow execute(Context& ctx, std::string& out) const;

  Pos pos;

 protected:
  virtual Flow exec(Context& ctx, std::string& out) const = 0;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// Runs statements in order until one breaks or continues a loop.
Flow execute_body(Context& ctx, const Body& body, std::string& out);

struct TextStmt : Stmt {
  TextStmt(Pos p, std::string t) : Stmt(p), text(std::move(t)) {}
  Flow exec(Context& ctx, std::string& out) const override;
  std::string text;
};

struct OutputStmt : Stmt {  // {{ expr }}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  ExprPtr expr;
};

struct IfStmt : Stmt {  // {% if %} ... {% elif %} ... {% else %} ... {% endif %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body else_body;
};

// Where a {% for %} or {% set %} stores values: one name, several names (unpacking), or namespace.attr.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;     // `a, b` or `(a,)`: the value is unpacked into names
  std::string attribute;   // non-empty: names[0].attribute (namespace assignment)
};

struct ForStmt : Stmt {  // {% for target in iterable [if filter] %} body [{% else %} else_body] {% endfor %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  Target target;
  ExprPtr iterable, filter;
  Body body, else_body;
};

struct SetStmt : Stmt {  // {% set target = value %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  Target target;
  ExprPtr value;
};

struct SetBlockStmt : Stmt {  // {% set target | filters %} body {% endset %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  Target target;
  std::vector<FilterCall> filters;
  Body body;
};

struct FilterBlockStmt : Stmt {  // {% filter f | g %} body {% endfilter %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  std::vector<FilterCall> filters;
  Body body;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required (Undefined when not passed, as in jinja2)
};

struct MacroStmt : Stmt {  // {% macro name(params) %} body {% endmacro %}
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};

struct LoopControlStmt : Stmt {  // {% break %} / {% continue %}
  LoopControlStmt(Pos p, Flow f) : Stmt(p), flow(f) {}
  Flow exec(Context& ctx, std::string& out) const override;
  Flow flow;
};

struct GenerationStmt : Stmt {  // Hugging Face's {% generation %} ... {% endgeneration %}: renders its body
  using Stmt::Stmt;
  Flow exec(Context& ctx, std::string& out) const override;
  Body body;
};

}  // namespace amusd::chat
