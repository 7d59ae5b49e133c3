#include "chat/interpreter.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "chat/builtins.h"
#include "chat/operators.h"

namespace amusd::chat {

// ---- Renderer -----------------------------------------------------------------------------------------------------

Renderer::~Renderer() {
  // Hold every live namespace and macro first, then empty them: nothing is freed while another is being emptied, so
  // no destructor recursion follows a long chain.
  std::vector<std::shared_ptr<Dict>> namespaces;
  for (const auto& w : namespaces_)
    if (auto ns = w.lock()) namespaces.push_back(std::move(ns));
  std::vector<std::shared_ptr<Callable>> macros;
  for (const auto& w : macros_)
    if (auto m = w.lock()) macros.push_back(std::move(m));
  std::vector<std::function<Value(const CallArgs&)>> closures;
  for (auto& m : macros) {
    closures.push_back(std::move(m->fn));
    m->fn = nullptr;
  }
  for (auto& ns : namespaces) ns->clear();
}

void Renderer::emit(std::string& out, std::string_view text) {
  charge_bytes(text.size());
  if (out.size() + text.size() > limits_.max_output_bytes)
    eval_fail("the output would exceed ", limits_.max_output_bytes, " bytes");
  out.append(text);
}

void Renderer::append(std::string& s, std::string_view text) {
  charge_bytes(text.size());
  if (s.size() + text.size() > limits_.max_output_bytes)
    eval_fail("a string would exceed ", limits_.max_output_bytes, " bytes");
  s.append(text);
}

void Renderer::charge_bytes(uint64_t bytes) {
  check_time();
  if (bytes > limits_.max_output_bytes) eval_fail("a string would exceed ", limits_.max_output_bytes, " bytes");
  if (bytes > limits_.max_bytes_built - std::min(bytes_built_, limits_.max_bytes_built))
    eval_fail("the template built more than ", limits_.max_bytes_built, " bytes of strings and lists");
  bytes_built_ += bytes;
}

void Renderer::check_time() const {
  if (limits_.max_milliseconds == 0) return;
  const auto elapsed = std::chrono::steady_clock::now() - started_;
  if (elapsed > std::chrono::milliseconds(limits_.max_milliseconds))
    eval_fail("the template ran longer than ", limits_.max_milliseconds, " ms");
}

void Renderer::charge_steps(uint64_t n) {
  check_time();
  if (n > limits_.max_steps - std::min(steps_, limits_.max_steps))
    eval_fail("the template ran more than ", limits_.max_steps, " loop iterations");
  steps_ += n;
}

Renderer::Nest::Nest(Renderer& r) : r_(r) {
  if (++r_.depth_ > r_.limits_.max_depth) {
    --r_.depth_;
    eval_fail("evaluation nests deeper than ", r_.limits_.max_depth, " levels (runaway macro recursion?)");
  }
}

Value Context::lookup(const std::string& name) const {
  for (const Scope* s = scope_.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undefined("'" + name + "' is undefined");
}

// ---- errors with positions ----------------------------------------------------------------------------------------

namespace {

[[noreturn]] void rethrow_at(Pos pos) {
  try {
    throw;
  } catch (const RaisedError& e) {
    fail("chat template raised an error at line ", pos.line, ", column ", pos.column, ": ", e.what());
  } catch (const EvalError& e) {
    fail("chat template error at line ", pos.line, ", column ", pos.column, ": ", e.what());
  }
}

CallArgs evaluate_args(Context& ctx, const ArgExprs& args) {
  CallArgs out;
  out.positional.reserve(args.positional.size());
  for (const auto& a : args.positional) out.positional.push_back(a->evaluate(ctx));
  for (const auto& [name, a] : args.keyword) out.keyword.emplace_back(name, a->evaluate(ctx));
  return out;
}

Value call_filter(Context& ctx, const FilterCall& filter, const Value& subject) {
  CallArgs args = evaluate_args(ctx, filter.args);
  try {
    return filter.fn(ctx, subject, args);
  } catch (const EvalError&) {
    rethrow_at(filter.pos);
  }
}

}  // namespace

Value Expr::evaluate(Context& ctx) const {
  try {
    Renderer::Nest nest(ctx.renderer());
    return eval(ctx);
  } catch (const EvalError&) {
    rethrow_at(pos);
  }
}

Flow Stmt::execute(Context& ctx, std::string& out) const {
  try {
    Renderer::Nest nest(ctx.renderer());
    return exec(ctx, out);
  } catch (const EvalError&) {
    rethrow_at(pos);
  }
}

Flow execute_body(Context& ctx, const Body& body, std::string& out) {
  for (const auto& stmt : body) {
    const Flow flow = stmt->execute(ctx, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Value apply_filters(Context& ctx, const std::vector<FilterCall>& filters, Value v) {
  for (const auto& f : filters) v = call_filter(ctx, f, v);
  return v;
}

// ---- expressions --------------------------------------------------------------------------------------------------

Value Literal::eval(Context&) const { return value; }

Value NameRef::eval(Context& ctx) const { return ctx.lookup(name); }

Value ListExpr::eval(Context& ctx) const {
  std::vector<Value> values;
  values.reserve(items.size());
  for (const auto& item : items) values.push_back(item->evaluate(ctx));
  return make_list(std::move(values), is_tuple);
}

Value DictExpr::eval(Context& ctx) const {
  auto dict = make_dict();
  for (const auto& [key, value] : entries) {
    Value k = key->evaluate(ctx);
    dict->set(std::move(k), value->evaluate(ctx));
  }
  return Value(dict);
}

Value GetAttr::eval(Context& ctx) const { return get_attr(object->evaluate(ctx), name, ctx.renderer()); }

Value GetItem::eval(Context& ctx) const {
  Value obj = object->evaluate(ctx);
  return get_item(obj, key->evaluate(ctx), ctx.renderer());
}

Value SliceExpr::eval(Context& ctx) const {
  Value obj = object->evaluate(ctx);
  auto bound = [&](const ExprPtr& e) { return e ? e->evaluate(ctx) : Value(None{}); };
  Value a = bound(start), b = bound(stop), c = bound(step);
  return get_slice(obj, a, b, c);
}

Value CallExpr::eval(Context& ctx) const {
  Value fn = callee->evaluate(ctx);
  CallArgs args = evaluate_args(ctx, this->args);
  if (fn.is_callable()) return fn.as_callable().fn(args);
  if (fn.is_undefined()) fail_undefined(fn);
  eval_fail("'", type_name(fn), "' object is not callable");
}

Value FilterExpr::eval(Context& ctx) const { return call_filter(ctx, filter, subject->evaluate(ctx)); }

Value TestExpr::eval(Context& ctx) const {
  Value v = subject->evaluate(ctx);
  CallArgs a = evaluate_args(ctx, args);
  return Value(fn(ctx, v, a) != negated);
}

Value UnaryExpr::eval(Context& ctx) const {
  Value v = operand->evaluate(ctx);
  if (op == UnaryOp::kNot) return Value(!truthy(v));
  if (v.is_undefined()) fail_undefined(v);
  if (!v.is_number()) eval_fail("bad operand type for unary ", op == UnaryOp::kNeg ? "-" : "+", ": '", type_name(v), "'");
  if (op == UnaryOp::kPos) return v.is_float() ? v : Value(v.as_int());
  if (v.is_float()) return Value(-v.as_float());
  if (v.as_int() == INT64_MIN) eval_fail("integer overflow (values are 64-bit)");
  return Value(-v.as_int());
}

Value BinaryExpr::eval(Context& ctx) const {
  Value a = lhs->evaluate(ctx);
  if (op == BinaryOp::kAnd) return truthy(a) ? rhs->evaluate(ctx) : a;
  if (op == BinaryOp::kOr) return truthy(a) ? a : rhs->evaluate(ctx);
  Value b = rhs->evaluate(ctx);
  return binary_op(op, a, b, ctx.renderer());
}

Value CompareExpr::eval(Context& ctx) const {
  Value a = first->evaluate(ctx);
  for (const auto& [op, expr] : rest) {
    Value b = expr->evaluate(ctx);
    if (!compare_op(op, a, b)) return Value(false);
    a = std::move(b);
  }
  return Value(true);
}

Value CondExpr::eval(Context& ctx) const {
  if (truthy(condition->evaluate(ctx))) return then_value->evaluate(ctx);
  if (else_value) return else_value->evaluate(ctx);
  return Value::undefined(str_cat("the inline if-expression on line ", pos.line,
                                  " evaluated to false and no else section was defined."));
}

// ---- statements ---------------------------------------------------------------------------------------------------

namespace {

// Stores a value into a {% for %} / {% set %} target.
void assign_target(Context& ctx, const Target& target, const Value& value) {
  if (!target.attribute.empty()) {
    Value ns = ctx.lookup(target.names[0]);
    if (!ns.is_dict() || !ns.as_dict().is_namespace()) eval_fail("cannot assign attribute on non-namespace object");
    ns.as_dict().set(Value(target.attribute), value);
    return;
  }
  if (!target.unpack) {
    ctx.assign(target.names[0], value);
    return;
  }
  std::vector<Value> items = iterate(value, ctx.renderer());
  if (items.size() > target.names.size())
    eval_fail("too many values to unpack (expected ", target.names.size(), ")");
  if (items.size() < target.names.size())
    eval_fail("not enough values to unpack (expected ", target.names.size(), ", got ", items.size(), ")");
  for (size_t i = 0; i < items.size(); ++i) ctx.assign(target.names[i], std::move(items[i]));
}

// The `loop` variable of iteration i over items.
Value make_loop(size_t i, const std::vector<Value>& items) {
  const size_t n = items.size();
  auto loop = make_dict();
  auto set = [&](const char* key, Value v) { loop->set(Value(key), std::move(v)); };
  set("index", Value::from_size(i + 1));
  set("index0", Value::from_size(i));
  set("revindex", Value::from_size(n - i));
  set("revindex0", Value::from_size(n - i - 1));
  set("first", Value(i == 0));
  set("last", Value(i + 1 == n));
  set("length", Value::from_size(n));
  set("depth", Value(1));
  set("depth0", Value(0));
  if (i > 0) set("previtem", items[i - 1]);
  if (i + 1 < n) set("nextitem", items[i + 1]);
  set("cycle", make_callable("<bound method LoopContext.cycle>", [i](const CallArgs& args) -> Value {
        if (args.positional.empty()) eval_fail("no items for cycling given");
        return args.positional[i % args.positional.size()];
      }));
  return Value(loop);
}

}  // namespace

Flow TextStmt::exec(Context& ctx, std::string& out) const {
  ctx.renderer().emit(out, text);
  return Flow::kNormal;
}

Flow OutputStmt::exec(Context& ctx, std::string& out) const {
  Value v = expr->evaluate(ctx);
  Renderer& r = ctx.renderer();
  r.emit(out, v.is_string() ? v.as_string() : to_str(v, r.limits().max_output_bytes));
  return Flow::kNormal;
}

Flow IfStmt::exec(Context& ctx, std::string& out) const {
  for (const auto& [condition, body] : branches)
    if (truthy(condition->evaluate(ctx))) return execute_body(ctx, body, out);
  return execute_body(ctx, else_body, out);
}

Flow ForStmt::exec(Context& ctx, std::string& out) const {
  std::vector<Value> items;
  try {
    items = iterate(iterable->evaluate(ctx), ctx.renderer());
  } catch (const EvalError&) {
    rethrow_at(iterable->pos);  // "'int' object is not iterable" points at the iterable
  }
  if (filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      ctx.renderer().charge_steps();
      Context inner = ctx.child();
      assign_target(inner, target, item);
      if (truthy(filter->evaluate(inner))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    Context inner = ctx.child();
    execute_body(inner, else_body, out);
    return Flow::kNormal;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    ctx.renderer().charge_steps();
    Context inner = ctx.child();
    assign_target(inner, target, items[i]);
    inner.assign("loop", make_loop(i, items));
    if (execute_body(inner, body, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

Flow SetStmt::exec(Context& ctx, std::string&) const {
  assign_target(ctx, target, value->evaluate(ctx));
  return Flow::kNormal;
}

Flow SetBlockStmt::exec(Context& ctx, std::string&) const {
  Context inner = ctx.child();
  std::string text;
  execute_body(inner, body, text);
  assign_target(ctx, target, apply_filters(ctx, filters, Value(std::move(text))));
  return Flow::kNormal;
}

Flow FilterBlockStmt::exec(Context& ctx, std::string& out) const {
  Context inner = ctx.child();
  std::string text;
  execute_body(inner, body, text);
  Value v = apply_filters(ctx, filters, Value(std::move(text)));
  Renderer& r = ctx.renderer();
  r.emit(out, to_str(v, r.limits().max_output_bytes));
  return Flow::kNormal;
}

namespace {

// Calls a macro: binds the arguments (Undefined for parameters neither passed nor defaulted, as in jinja2) in a new
// scope under the scope the macro was defined in, and returns the rendered body.
Value call_macro(Renderer& r, const MacroStmt& m, const std::shared_ptr<Scope>& closure, const CallArgs& args) {
  r.charge_steps();
  const size_t n = m.params.size();
  if (args.positional.size() > n) eval_fail("macro '", m.name, "' takes not more than ", n, " argument(s)");
  std::vector<const Value*> given(n, nullptr);
  for (size_t i = 0; i < args.positional.size(); ++i) given[i] = &args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    auto it = std::find_if(m.params.begin(), m.params.end(), [&](const MacroParam& p) { return p.name == key; });
    if (it == m.params.end()) eval_fail("macro '", m.name, "' takes no keyword argument '", key, "'");
    const size_t i = static_cast<size_t>(it - m.params.begin());
    if (given[i]) eval_fail("macro '", m.name, "' got multiple values for argument '", key, "'");
    given[i] = &value;
  }
  Context ctx(r, std::make_shared<Scope>(Scope{closure, {}}));
  for (size_t i = 0; i < n; ++i) {
    const MacroParam& p = m.params[i];
    if (given[i]) {
      ctx.assign(p.name, *given[i]);
    } else if (p.default_value) {
      ctx.assign(p.name, p.default_value->evaluate(ctx));
    } else {
      ctx.assign(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
    }
  }
  std::string out;
  execute_body(ctx, m.body, out);
  return Value(std::move(out));
}

}  // namespace

Flow MacroStmt::exec(Context& ctx, std::string&) const {
  Renderer& r = ctx.renderer();
  std::shared_ptr<Scope> closure = ctx.scope();
  auto macro = std::make_shared<Callable>(Callable{
      "<Macro '" + name + "'>",
      [&r, this, closure](const CallArgs& args) { return call_macro(r, *this, closure, args); }});
  r.track(macro);  // the closure holds the scope that holds the macro: the renderer breaks that cycle at the end
  ctx.assign(name, Value(macro));
  return Flow::kNormal;
}

Flow LoopControlStmt::exec(Context&, std::string&) const { return flow; }

Flow GenerationStmt::exec(Context& ctx, std::string& out) const { return execute_body(ctx, body, out); }

// ---- global functions and the render -----------------------------------------------------------------------------

namespace {

// strftime with the C library (Python's datetime.strftime does the same on Linux).
std::string format_time(const std::tm& now, const std::string& format) {
  if (format.empty()) return "";
  std::vector<char> buf(256);
  for (int tries = 0; tries < 6; ++tries) {
    const size_t n = std::strftime(buf.data(), buf.size(), format.c_str(), &now);
    if (n > 0) return std::string(buf.data(), n);
    buf.resize(buf.size() * 4);
  }
  return "";  // formats whose expansion is empty
}

int64_t int_argument(const Value& v, const char* fn) {
  if (!v.is_integral()) eval_fail(fn, "(): '", type_name(v), "' object cannot be interpreted as an integer");
  return v.as_int();
}

Value range_of(Renderer& r, const CallArgs& a) {
  if (!a.keyword.empty()) eval_fail("range() takes no keyword arguments");
  const size_t n = a.positional.size();
  if (n < 1 || n > 3) eval_fail("range expected 1 to 3 arguments, got ", n);
  const int64_t start = n == 1 ? 0 : int_argument(a.positional[0], "range");
  const int64_t stop = int_argument(a.positional[n == 1 ? 0 : 1], "range");
  const int64_t step = n == 3 ? int_argument(a.positional[2], "range") : 1;
  if (step == 0) eval_fail("range() arg 3 must not be zero");
  // Count in 128 bits: stop - start may not fit in int64.
  const __int128 span = static_cast<__int128>(stop) - start;
  const __int128 count128 = (span > 0) != (step > 0) || span == 0 ? 0 : (span + step - (step > 0 ? 1 : -1)) / step;
  const auto count = static_cast<uint64_t>(count128);  // at most 2**64 - 1
  r.charge_steps(count);
  std::vector<Value> items;
  items.reserve(count);
  for (uint64_t i = 0; i < count; ++i) items.emplace_back(start + static_cast<int64_t>(i) * step);
  return make_list(std::move(items));
}

// namespace(mapping?, **attrs) and dict(mapping?, **items).
Value new_dict(Renderer& r, const CallArgs& a, Dict::Kind kind) {
  auto d = make_dict(kind);
  if (a.positional.size() > 1) eval_fail("expected at most 1 positional argument, got ", a.positional.size());
  if (!a.positional.empty()) {
    const Value& init = a.positional[0];
    if (!init.is_dict() || init.as_dict().is_namespace())
      eval_fail("cannot initialize a ", kind == Dict::Kind::kNamespace ? "namespace" : "dict", " from '",
                type_name(init), "'");
    for (const auto& [k, v] : init.as_dict().entries()) d->set(k, v);
  }
  for (const auto& [k, v] : a.keyword) d->set(Value(k), v);
  if (kind == Dict::Kind::kNamespace) r.track(d);
  return Value(d);
}

void add_globals(Scope& s, Renderer& r) {
  s.vars["range"] = make_callable("<class 'range'>", [&r](const CallArgs& a) { return range_of(r, a); });
  s.vars["namespace"] = make_callable("<class 'jinja2.utils.Namespace'>", [&r](const CallArgs& a) {
    return new_dict(r, a, Dict::Kind::kNamespace);
  });
  s.vars["dict"] = make_callable("<class 'dict'>", [&r](const CallArgs& a) { return new_dict(r, a, Dict::Kind::kDict); });
  s.vars["raise_exception"] = make_callable("<function raise_exception>", [](const CallArgs& a) -> Value {
    if (a.positional.size() != 1 || !a.keyword.empty()) eval_fail("raise_exception() takes exactly one argument");
    throw RaisedError(to_str(a.positional[0]));
  });
  s.vars["strftime_now"] = make_callable("<function strftime_now>", [&r](const CallArgs& a) {
    if (a.positional.size() != 1 || !a.keyword.empty()) eval_fail("strftime_now() takes exactly one argument");
    return Value(format_time(r.now(), to_str(a.positional[0])));
  });
}

}  // namespace

std::string render_template(const Body& body, const std::unordered_map<std::string, Value>& variables,
                            const RenderLimits& limits, const std::tm& now) {
  Renderer renderer(limits, now);  // destroyed last: breaks cycles among what the render created
  auto globals = std::make_shared<Scope>();
  add_globals(*globals, renderer);
  auto top = std::make_shared<Scope>(Scope{globals, variables});
  std::string out;
  Context ctx(renderer, top);
  execute_body(ctx, body, out);
  return out;
}

}  // namespace amusd::chat
