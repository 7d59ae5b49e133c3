#include "chat/parser.h"

#include <algorithm>
#include <initializer_list>

#include "chat/builtins.h"

namespace amusd::chat {

namespace {

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::kText: return "template text";
    case TokenKind::kVarBegin: return "'{{'";
    case TokenKind::kVarEnd: return "end of print statement ('}}')";
    case TokenKind::kBlockBegin: return "'{%'";
    case TokenKind::kBlockEnd: return "end of statement block ('%}')";
    case TokenKind::kName: return "'" + t.text + "'";
    case TokenKind::kString: return "string literal";
    case TokenKind::kInt: return "integer literal";
    case TokenKind::kFloat: return "float literal";
    case TokenKind::kOp: return "'" + t.text + "'";
    case TokenKind::kEnd: return "end of template";
  }
  return "token";
}

std::string join_names(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "'" : " or '") + std::string(n) + "'";
  return out;
}

// Tags jinja2 knows that this interpreter does not implement; named so that the error says "unsupported".
bool is_unsupported_tag(std::string_view tag) {
  static constexpr std::string_view kTags[] = {"include", "import", "from",       "extends", "block",
                                               "call",    "with",   "autoescape", "trans",   "do"};
  return std::find(std::begin(kTags), std::end(kTags), tag) != std::end(kTags);
}

template <class Node>
std::unique_ptr<Node> node_at(Pos pos) {
  return std::make_unique<Node>(pos);
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse_all() {
    std::string which;
    return parse_body({}, &which);
  }

 private:
  std::vector<Token> toks_;
  size_t i_ = 0;
  int loop_depth_ = 0;  // enclosing {% for %} bodies in the current macro: where break/continue may appear
  int nesting_ = 0;     // current recursion depth of statements and expressions

  // Counts one level of recursion; a syntax error when templates nest deeper than kMaxSyntaxDepth.
  class Nest {
   public:
    Nest(Parser& p, Pos pos) : p_(p) {
      if (++p_.nesting_ > kMaxSyntaxDepth) syntax_error(pos, "template nests deeper than ", kMaxSyntaxDepth, " levels");
    }
    ~Nest() { --p_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };

  // ---- token helpers ----

  const Token& cur() const { return toks_[i_]; }
  const Token& peek() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  const Token& advance() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::kOp && cur().text == op; }
  bool is_name(std::string_view name) const { return cur().kind == TokenKind::kName && cur().text == name; }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool accept_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  [[noreturn]] void unexpected(std::string_view expected) const {
    syntax_error(cur().pos, "unexpected ", describe(cur()), ", expected ", expected);
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) unexpected("'" + std::string(op) + "'");
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd) unexpected("end of statement block ('%}')");
    advance();
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName) unexpected("a name");
    return advance().text;
  }

  // Gives an expression node its depth from its children; a syntax error past kMaxSyntaxDepth.
  template <class Node>
  ExprPtr finish(std::unique_ptr<Node> node, std::initializer_list<const Expr*> children) {
    for (const Expr* c : children)
      if (c) node->depth = std::max(node->depth, c->depth + 1);
    if (node->depth > kMaxSyntaxDepth) syntax_error(node->pos, "expression nests deeper than ", kMaxSyntaxDepth, " levels");
    return node;
  }

  // ---- statements ----

  // Statements up to a {% tag %} named in end_tags (or the end of the template when end_tags is empty). Consumes
  // "{%" and the tag name, stores the name in *which, and leaves the rest of that tag to the caller.
  Body parse_body(std::initializer_list<std::string_view> end_tags, std::string* which) {
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::kEnd:
          if (end_tags.size() == 0) return body;
          syntax_error(t.pos, "unexpected end of template, expected ", join_names(end_tags));
        case TokenKind::kText:
          body.push_back(std::make_unique<TextStmt>(t.pos, t.text));
          advance();
          break;
        case TokenKind::kVarBegin: {
          auto out = node_at<OutputStmt>(advance().pos);
          out->expr = parse_tuple();
          if (cur().kind != TokenKind::kVarEnd) unexpected("end of print statement ('}}')");
          advance();
          body.push_back(std::move(out));
          break;
        }
        case TokenKind::kBlockBegin: {
          const Token& tag = peek();
          if (tag.kind == TokenKind::kName &&
              std::find(end_tags.begin(), end_tags.end(), std::string_view(tag.text)) != end_tags.end()) {
            advance();
            *which = advance().text;
            return body;
          }
          body.push_back(parse_statement());
          break;
        }
        default: unexpected("template text or a tag");
      }
    }
  }

  StmtPtr parse_statement() {
    const Pos pos = advance().pos;  // "{%"
    if (cur().kind != TokenKind::kName) unexpected("a tag name");
    const Pos tag_pos = cur().pos;
    const std::string tag = advance().text;
    Nest nest(*this, tag_pos);
    if (tag == "if") return parse_if(pos);
    if (tag == "for") return parse_for(pos);
    if (tag == "set") return parse_set(pos);
    if (tag == "macro") return parse_macro(pos);
    if (tag == "filter") return parse_filter_block(pos);
    if (tag == "generation") {
      auto node = node_at<GenerationStmt>(pos);
      expect_block_end();
      std::string which;
      node->body = parse_body({"endgeneration"}, &which);
      expect_block_end();
      return node;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) syntax_error(tag_pos, "'", tag, "' outside of a loop");
      expect_block_end();
      return std::make_unique<LoopControlStmt>(pos, tag == "break" ? Flow::kBreak : Flow::kContinue);
    }
    if (is_unsupported_tag(tag)) syntax_error(tag_pos, "unsupported tag '", tag, "'");
    syntax_error(tag_pos, "unknown or unexpected tag '", tag, "'");
  }

  StmtPtr parse_if(Pos pos) {
    auto node = node_at<IfStmt>(pos);
    while (true) {
      ExprPtr condition = parse_tuple(false);
      expect_block_end();
      std::string which;
      Body body = parse_body({"elif", "else", "endif"}, &which);
      node->branches.emplace_back(std::move(condition), std::move(body));
      if (which == "elif") continue;
      if (which == "else") {
        expect_block_end();
        node->else_body = parse_body({"endif"}, &which);
      }
      expect_block_end();
      return node;
    }
  }

  StmtPtr parse_for(Pos pos) {
    auto node = node_at<ForStmt>(pos);
    node->target = parse_target(false);
    if (!accept_name("in")) unexpected("'in'");
    node->iterable = parse_tuple(false, "recursive");
    if (accept_name("if")) node->filter = parse_expression();
    if (is_name("recursive")) syntax_error(cur().pos, "recursive for loops are not supported");
    expect_block_end();
    std::string which;
    ++loop_depth_;
    node->body = parse_body({"endfor", "else"}, &which);
    --loop_depth_;
    if (which == "else") {
      expect_block_end();
      node->else_body = parse_body({"endfor"}, &which);
    }
    expect_block_end();
    return node;
  }

  StmtPtr parse_set(Pos pos) {
    Target target = parse_target(true);
    if (accept_op("=")) {
      auto node = node_at<SetStmt>(pos);
      node->target = std::move(target);
      node->value = parse_tuple();
      expect_block_end();
      return node;
    }
    auto node = node_at<SetBlockStmt>(pos);
    node->target = std::move(target);
    if (is_op("|")) {
      advance();
      node->filters = parse_filter_chain();
    }
    expect_block_end();
    std::string which;
    node->body = parse_body({"endset"}, &which);
    expect_block_end();
    return node;
  }

  StmtPtr parse_macro(Pos pos) {
    auto node = node_at<MacroStmt>(pos);
    node->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!node->params.empty()) expect_op(",");
      if (is_op(")")) break;  // trailing comma
      MacroParam param;
      const Pos param_pos = cur().pos;
      param.name = expect_name();
      if (accept_op("=")) {
        param.default_value = parse_expression();
      } else if (!node->params.empty() && node->params.back().default_value) {
        syntax_error(param_pos, "non-default argument follows default argument");
      }
      node->params.push_back(std::move(param));
    }
    expect_op(")");
    expect_block_end();
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string which;
    node->body = parse_body({"endmacro"}, &which);
    loop_depth_ = saved_loop_depth;
    expect_block_end();
    return node;
  }

  StmtPtr parse_filter_block(Pos pos) {
    auto node = node_at<FilterBlockStmt>(pos);
    node->filters = parse_filter_chain();
    expect_block_end();
    std::string which;
    node->body = parse_body({"endfilter"}, &which);
    expect_block_end();
    return node;
  }

  // Assignment targets: `name`, `a, b`, `(a, b)`, and with allow_namespace `ns.attr`.
  Target parse_target(bool allow_namespace) {
    Target target;
    const bool parenthesized = accept_op("(");
    while (true) {
      const Pos pos = cur().pos;
      std::string name = expect_name();
      if (name == "true" || name == "false" || name == "none" || name == "True" || name == "False" || name == "None")
        syntax_error(pos, "cannot assign to '", name, "'");
      target.names.push_back(std::move(name));
      if (allow_namespace && !parenthesized && target.names.size() == 1 && accept_op(".")) {
        target.attribute = expect_name();
        return target;
      }
      if (!accept_op(",")) break;
      target.unpack = true;
      if (cur().kind != TokenKind::kName) break;  // trailing comma
    }
    if (parenthesized) expect_op(")");
    return target;
  }

  // Filters after a '|': name[(args)] { '|' name[(args)] }.
  std::vector<FilterCall> parse_filter_chain() {
    std::vector<FilterCall> chain;
    chain.push_back(parse_filter_call());
    while (accept_op("|")) chain.push_back(parse_filter_call());
    return chain;
  }

  FilterCall parse_filter_call() {
    FilterCall call;
    call.pos = cur().pos;
    call.name = expect_name();
    while (accept_op(".")) call.name += "." + expect_name();
    call.fn = find_filter(call.name);
    if (!call.fn) syntax_error(call.pos, "no filter named '", call.name, "'");
    if (is_op("(")) call.args = parse_call_args();
    return call;
  }

  // ---- expressions (jinja2's grammar, lowest precedence first) ----

  // Expressions separated by commas form a tuple; `extra_end` names a keyword that also ends the list.
  ExprPtr parse_tuple(bool with_condexpr = true, const char* extra_end = nullptr, bool explicit_parens = false) {
    const Pos pos = cur().pos;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_op(",");
      const bool end = cur().kind == TokenKind::kVarEnd || cur().kind == TokenKind::kBlockEnd || is_op(")") ||
                       (extra_end && is_name(extra_end));
      if (end) break;
      items.push_back(parse_expression(with_condexpr));
      if (!is_op(",")) break;
      is_tuple = true;
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items.front());
      if (!explicit_parens) unexpected("an expression");
    }
    auto node = node_at<ListExpr>(pos);
    node->is_tuple = true;
    std::vector<const Expr*> children;
    int depth = 1;
    for (const auto& item : items) depth = std::max(depth, item->depth + 1);
    node->items = std::move(items);
    node->depth = depth;
    return finish(std::move(node), {});
  }

  ExprPtr parse_expression(bool with_condexpr = true) {
    Nest nest(*this, cur().pos);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      auto node = node_at<CondExpr>(advance().pos);
      node->then_value = std::move(expr);
      node->condition = parse_or();
      if (accept_name("else")) node->else_value = parse_condexpr();
      const Expr* a = node->then_value.get();
      const Expr* b = node->condition.get();
      const Expr* c = node->else_value.get();
      expr = finish(std::move(node), {a, b, c});
    }
    return expr;
  }

  ExprPtr binary(Pos pos, BinaryOp op, ExprPtr lhs, ExprPtr rhs) {
    auto node = node_at<BinaryExpr>(pos);
    node->op = op;
    node->lhs = std::move(lhs);
    node->rhs = std::move(rhs);
    const Expr* a = node->lhs.get();
    const Expr* b = node->rhs.get();
    return finish(std::move(node), {a, b});
  }

  ExprPtr parse_or() {
    ExprPtr lhs = parse_and();
    while (is_name("or")) {
      const Pos pos = advance().pos;
      lhs = binary(pos, BinaryOp::kOr, std::move(lhs), parse_and());
    }
    return lhs;
  }

  ExprPtr parse_and() {
    ExprPtr lhs = parse_not();
    while (is_name("and")) {
      const Pos pos = advance().pos;
      lhs = binary(pos, BinaryOp::kAnd, std::move(lhs), parse_not());
    }
    return lhs;
  }

  ExprPtr parse_not() {
    if (!is_name("not")) return parse_compare();
    Nest nest(*this, cur().pos);
    auto node = node_at<UnaryExpr>(advance().pos);
    node->op = UnaryOp::kNot;
    node->operand = parse_not();
    const Expr* a = node->operand.get();
    return finish(std::move(node), {a});
  }

  ExprPtr parse_compare() {
    const Pos pos = cur().pos;
    ExprPtr first = parse_math1();
    std::vector<std::pair<CompareOp, ExprPtr>> rest;
    while (true) {
      static const std::pair<std::string_view, CompareOp> kOps[] = {
          {"==", CompareOp::kEq}, {"!=", CompareOp::kNe}, {"<", CompareOp::kLt},
          {"<=", CompareOp::kLe}, {">", CompareOp::kGt},  {">=", CompareOp::kGe}};
      std::optional<CompareOp> op;
      for (const auto& [text, o] : kOps)
        if (is_op(text)) op = o;
      if (op) {
        advance();
      } else if (accept_name("in")) {
        op = CompareOp::kIn;
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        advance();
        advance();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      rest.emplace_back(*op, parse_math1());
    }
    if (rest.empty()) return first;
    auto node = node_at<CompareExpr>(pos);
    int depth = first->depth + 1;
    for (const auto& r : rest) depth = std::max(depth, r.second->depth + 1);
    node->first = std::move(first);
    node->rest = std::move(rest);
    node->depth = depth;
    return finish(std::move(node), {});
  }

  // One precedence level of left-associative binary operators.
  template <class Next>
  ExprPtr parse_binary_level(std::initializer_list<std::pair<std::string_view, BinaryOp>> ops, Next next) {
    ExprPtr lhs = (this->*next)();
    while (true) {
      const std::pair<std::string_view, BinaryOp>* hit = nullptr;
      for (const auto& op : ops)
        if (is_op(op.first)) hit = &op;
      if (!hit) return lhs;
      const Pos pos = advance().pos;
      lhs = binary(pos, hit->second, std::move(lhs), (this->*next)());
    }
  }

  ExprPtr parse_math1() { return parse_binary_level({{"+", BinaryOp::kAdd}, {"-", BinaryOp::kSub}}, &Parser::parse_concat); }
  ExprPtr parse_concat() { return parse_binary_level({{"~", BinaryOp::kConcat}}, &Parser::parse_math2); }
  ExprPtr parse_math2() {
    return parse_binary_level({{"*", BinaryOp::kMul}, {"/", BinaryOp::kDiv}, {"//", BinaryOp::kFloorDiv},
                               {"%", BinaryOp::kMod}},
                              &Parser::parse_pow);
  }
  ExprPtr parse_pow() { return parse_binary_level({{"**", BinaryOp::kPow}}, &Parser::parse_unary_with_filters); }
  ExprPtr parse_unary_with_filters() { return parse_unary(true); }

  ExprPtr parse_unary(bool with_filter) {
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      Nest nest(*this, cur().pos);
      auto unary = node_at<UnaryExpr>(cur().pos);
      unary->op = advance().text == "-" ? UnaryOp::kNeg : UnaryOp::kPos;
      unary->operand = parse_unary(false);
      const Expr* a = unary->operand.get();
      node = finish(std::move(unary), {a});
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const Pos pos = t.pos;
    switch (t.kind) {
      case TokenKind::kName: {
        std::string name = advance().text;
        if (name == "true" || name == "True") return std::make_unique<Literal>(pos, Value(true));
        if (name == "false" || name == "False") return std::make_unique<Literal>(pos, Value(false));
        if (name == "none" || name == "None") return std::make_unique<Literal>(pos, Value(None{}));
        return std::make_unique<NameRef>(pos, std::move(name));
      }
      case TokenKind::kString: {
        std::string s;
        while (cur().kind == TokenKind::kString) s += advance().text;  // adjacent literals concatenate
        return std::make_unique<Literal>(pos, Value(std::move(s)));
      }
      case TokenKind::kInt: return std::make_unique<Literal>(pos, Value(advance().int_value));
      case TokenKind::kFloat: return std::make_unique<Literal>(pos, Value(advance().float_value));
      case TokenKind::kOp:
        if (t.text == "(") {
          advance();
          ExprPtr inner = parse_tuple(true, nullptr, true);
          expect_op(")");
          return inner;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default: break;
    }
    unexpected("an expression");
  }

  ExprPtr parse_list() {
    auto node = node_at<ListExpr>(advance().pos);
    while (!is_op("]")) {
      if (!node->items.empty()) expect_op(",");
      if (is_op("]")) break;
      node->items.push_back(parse_expression());
      node->depth = std::max(node->depth, node->items.back()->depth + 1);
    }
    expect_op("]");
    return finish(std::move(node), {});
  }

  ExprPtr parse_dict() {
    auto node = node_at<DictExpr>(advance().pos);
    while (!is_op("}")) {
      if (!node->entries.empty()) expect_op(",");
      if (is_op("}")) break;
      ExprPtr key = parse_expression();
      expect_op(":");
      ExprPtr value = parse_expression();
      node->depth = std::max({node->depth, key->depth + 1, value->depth + 1});
      node->entries.emplace_back(std::move(key), std::move(value));
    }
    expect_op("}");
    return finish(std::move(node), {});
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_op("|")) {
        auto filter = node_at<FilterExpr>(advance().pos);
        filter->subject = std::move(node);
        filter->filter = parse_filter_call();
        filter->pos = filter->filter.pos;
        node = finish_with_args(std::move(filter));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr finish_with_args(std::unique_ptr<FilterExpr> node) {
    node->depth = std::max(node->depth, node->subject->depth + 1);
    node->depth = std::max(node->depth, args_depth(node->filter.args) + 1);
    return finish(std::move(node), {});
  }

  static int args_depth(const ArgExprs& args) {
    int depth = 0;
    for (const auto& a : args.positional) depth = std::max(depth, a->depth);
    for (const auto& a : args.keyword) depth = std::max(depth, a.second->depth);
    return depth;
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const Token& t = advance();
    const Pos pos = t.pos;
    if (t.text == ".") {
      if (cur().kind == TokenKind::kName) {
        auto node = node_at<GetAttr>(pos);
        node->object = std::move(object);
        node->name = advance().text;
        const Expr* a = node->object.get();
        return finish(std::move(node), {a});
      }
      if (cur().kind != TokenKind::kInt) unexpected("a name or number");
      auto node = node_at<GetItem>(pos);
      node->object = std::move(object);
      node->key = std::make_unique<Literal>(cur().pos, Value(advance().int_value));
      const Expr* a = node->object.get();
      return finish(std::move(node), {a});
    }
    // '[': one subscript (an index or a slice), or several forming a tuple index.
    std::vector<ExprPtr> keys;
    while (!is_op("]")) {
      if (!keys.empty()) expect_op(",");
      keys.push_back(parse_subscribed(object, pos));
    }
    expect_op("]");
    if (keys.empty()) syntax_error(pos, "expected a subscript expression");
    if (keys.size() == 1 && dynamic_cast<SliceExpr*>(keys.front().get())) return std::move(keys.front());
    auto node = node_at<GetItem>(pos);
    if (keys.size() == 1) {
      node->key = std::move(keys.front());
    } else {
      auto tuple = node_at<ListExpr>(pos);
      tuple->is_tuple = true;
      for (auto& k : keys) {
        if (dynamic_cast<SliceExpr*>(k.get())) syntax_error(k->pos, "slices inside a tuple index are not supported");
        tuple->depth = std::max(tuple->depth, k->depth + 1);
        tuple->items.push_back(std::move(k));
      }
      node->key = finish(std::move(tuple), {});
    }
    node->object = std::move(object);
    const Expr* a = node->object.get();
    const Expr* b = node->key.get();
    return finish(std::move(node), {a, b});
  }

  // Inside [ ]: an expression, or a slice start:stop:step (which takes over `object`, left null otherwise).
  ExprPtr parse_subscribed(ExprPtr& object, Pos pos) {
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression();
      if (!is_op(":")) return start;
    }
    advance();  // ':'
    auto node = node_at<SliceExpr>(pos);
    node->start = std::move(start);
    if (!is_op("]") && !is_op(",") && !is_op(":")) node->stop = parse_expression();
    if (accept_op(":") && !is_op("]") && !is_op(",")) node->step = parse_expression();
    if (!object) syntax_error(pos, "only one slice per subscript is supported");
    node->object = std::move(object);
    const Expr* a = node->object.get();
    const Expr* b = node->start.get();
    const Expr* c = node->stop.get();
    const Expr* d = node->step.get();
    return finish(std::move(node), {a, b, c, d});
  }

  ArgExprs parse_call_args() {
    expect_op("(");
    ArgExprs args;
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;  // trailing comma
      }
      first = false;
      if (is_op("*") || is_op("**")) syntax_error(cur().pos, "*args and **kwargs in calls are not supported");
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOp && peek().text == "=") {
        std::string key = advance().text;
        advance();
        args.keyword.emplace_back(std::move(key), parse_expression());
      } else {
        if (!args.keyword.empty()) syntax_error(cur().pos, "positional argument follows keyword argument");
        args.positional.push_back(parse_expression());
      }
    }
    expect_op(")");
    return args;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto node = node_at<CallExpr>(callee->pos);  // errors of the call point at what is called
    node->callee = std::move(callee);
    node->args = parse_call_args();
    node->depth = std::max({node->depth, node->callee->depth + 1, args_depth(node->args) + 1});
    return finish(std::move(node), {});
  }

  ExprPtr parse_test(ExprPtr subject) {
    auto node = node_at<TestExpr>(advance().pos);  // "is"
    node->subject = std::move(subject);
    node->negated = accept_name("not");
    const Pos name_pos = cur().pos;
    node->name = expect_name();
    while (accept_op(".")) node->name += "." + expect_name();
    node->fn = find_test(node->name);
    if (!node->fn) syntax_error(name_pos, "no test named '", node->name, "'");
    const Token& t = cur();
    const bool arg_follows = t.kind == TokenKind::kName || t.kind == TokenKind::kString || t.kind == TokenKind::kInt ||
                             t.kind == TokenKind::kFloat || is_op("[") || is_op("{");
    if (is_op("(")) {
      node->args = parse_call_args();
    } else if (arg_follows && !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) syntax_error(t.pos, "tests cannot be chained with 'is'");
      node->args.positional.push_back(parse_postfix(parse_primary()));
    }
    node->depth = std::max({node->depth, node->subject->depth + 1, args_depth(node->args) + 1});
    return finish(std::move(node), {});
  }
};

}  // namespace

Body parse_template(std::string_view source, const SyntaxOptions& options) {
  return Parser(tokenize(source, options)).parse_all();
}

}  // namespace amusd::chat
