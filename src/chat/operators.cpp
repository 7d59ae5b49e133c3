#include "chat/operators.h"

#include <cmath>

#include "chat/builtins.h"
#include "chat/interpreter.h"

namespace amusd::chat {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  eval_fail("unsupported operand type(s) for ", op, ": '", type_name(a), "' and '", type_name(b), "'");
}

[[noreturn]] void overflow() { eval_fail("integer overflow (values are 64-bit)"); }

int64_t add_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) overflow();
  return r;
}

int64_t sub_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) overflow();
  return r;
}

int64_t mul_checked(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) overflow();
  return r;
}

// ---- numbers (Python semantics: floor division and modulo round toward negative infinity) ----

// Python's float divmod: the remainder has the divisor's sign.
std::pair<double, double> float_divmod(double x, double y) {
  if (y == 0) eval_fail("float division by zero");
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv = 0;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return {floordiv, mod};
}

std::pair<int64_t, int64_t> int_divmod(int64_t x, int64_t y) {
  if (y == 0) eval_fail("integer division or modulo by zero");
  if (x == INT64_MIN && y == -1) overflow();
  int64_t q = x / y;
  int64_t r = x % y;
  if (r != 0 && ((r < 0) != (y < 0))) {
    --q;
    r += y;
  }
  return {q, r};
}

Value int_pow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 0) eval_fail("0.0 cannot be raised to a negative power");
    return Value(std::pow(static_cast<double>(base), static_cast<double>(exp)));
  }
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) result = mul_checked(result, base);
    exp >>= 1;
    if (exp > 0) base = mul_checked(base, base);
  }
  return Value(result);
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  const bool floats = a.is_float() || b.is_float();
  if (floats) {
    const double x = a.as_float(), y = b.as_float();
    switch (op) {
      case BinaryOp::kAdd: return Value(x + y);
      case BinaryOp::kSub: return Value(x - y);
      case BinaryOp::kMul: return Value(x * y);
      case BinaryOp::kDiv:
        if (y == 0) eval_fail("float division by zero");
        return Value(x / y);
      case BinaryOp::kFloorDiv: return Value(float_divmod(x, y).first);
      case BinaryOp::kMod: return Value(float_divmod(x, y).second);
      case BinaryOp::kPow: {
        if (x == 0 && y < 0) eval_fail("0.0 cannot be raised to a negative power");
        if (x < 0 && y != std::trunc(y)) eval_fail("complex results are not supported");
        return Value(std::pow(x, y));
      }
      default: break;
    }
  } else {
    const int64_t x = a.as_int(), y = b.as_int();
    switch (op) {
      case BinaryOp::kAdd: return Value(add_checked(x, y));
      case BinaryOp::kSub: return Value(sub_checked(x, y));
      case BinaryOp::kMul: return Value(mul_checked(x, y));
      case BinaryOp::kDiv:
        if (y == 0) eval_fail("division by zero");
        return Value(static_cast<double>(x) / static_cast<double>(y));
      case BinaryOp::kFloorDiv: return Value(int_divmod(x, y).first);
      case BinaryOp::kMod: return Value(int_divmod(x, y).second);
      case BinaryOp::kPow: return int_pow(x, y);
      default: break;
    }
  }
  eval_fail("internal error: bad arithmetic operator");
}

// ---- sequences ----

// Markup + str escapes the plain side (markupsafe); str + str is plain.
Value add_strings(const Value& a, const Value& b, Renderer& r) {
  const bool markup = a.is_markup() || b.is_markup();
  std::string x = markup && !a.is_markup() ? html_escape(a.as_string()) : a.as_string();
  const std::string y = markup && !b.is_markup() ? html_escape(b.as_string()) : b.as_string();
  r.charge_bytes(x.size() + y.size());
  x += y;
  return markup ? Value::markup(std::move(x)) : Value(std::move(x));
}

Value repeat(const Value& seq, int64_t times, Renderer& r) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > r.limits().max_output_bytes / s.size())
      eval_fail("string repetition longer than ", r.limits().max_output_bytes, " bytes");
    r.charge_bytes(s.size() * static_cast<uint64_t>(times));
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(times));
    for (int64_t i = 0; i < times; ++i) out += s;
    return seq.is_markup() ? Value::markup(std::move(out)) : Value(std::move(out));
  }
  const List& list = seq.as_list();
  if (list.is_generator) eval_fail("unsupported operand type(s) for *: 'generator' and 'int'");
  if (!list.items.empty() && static_cast<uint64_t>(times) > r.limits().max_steps / list.items.size())
    eval_fail("list repetition longer than ", r.limits().max_steps, " items");
  r.charge_bytes(list.items.size() * static_cast<uint64_t>(times) * sizeof(Value));
  std::vector<Value> items;
  for (int64_t i = 0; i < times; ++i) items.insert(items.end(), list.items.begin(), list.items.end());
  return make_list(std::move(items), list.is_tuple);
}

Value add(const Value& a, const Value& b, Renderer& r) {
  if (a.is_number() && b.is_number()) return arithmetic(BinaryOp::kAdd, a, b);
  if (a.is_string() && b.is_string()) return add_strings(a, b, r);
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple && !a.as_list().is_generator &&
      !b.as_list().is_generator) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    r.charge_bytes((x.size() + y.size()) * sizeof(Value));
    std::vector<Value> items(x);
    items.insert(items.end(), y.begin(), y.end());
    return make_list(std::move(items), a.as_list().is_tuple);
  }
  if (a.is_string() || (a.is_list() && !a.as_list().is_generator))
    eval_fail("can only concatenate ", type_name(a), " (not \"", type_name(b), "\") to ", type_name(a));
  unsupported("+", a, b);
}

Value multiply(const Value& a, const Value& b, Renderer& r) {
  if (a.is_number() && b.is_number()) return arithmetic(BinaryOp::kMul, a, b);
  if ((a.is_string() || a.is_list()) && b.is_integral()) return repeat(a, b.as_int(), r);
  if (a.is_integral() && (b.is_string() || b.is_list())) return repeat(b, a.as_int(), r);
  if (a.is_string() || a.is_list() || b.is_string() || b.is_list())
    eval_fail("can't multiply sequence by non-int of type '", type_name(a.is_integral() ? a : b), "'");
  unsupported("*", a, b);
}

const char* op_text(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "+";
    case BinaryOp::kSub: return "-";
    case BinaryOp::kMul: return "*";
    case BinaryOp::kDiv: return "/";
    case BinaryOp::kFloorDiv: return "//";
    case BinaryOp::kMod: return "%";
    case BinaryOp::kPow: return "** or pow()";
    case BinaryOp::kConcat: return "~";
    case BinaryOp::kAnd: return "and";
    case BinaryOp::kOr: return "or";
  }
  return "?";
}

const char* op_text(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    default: return "==";
  }
}

}  // namespace

Value binary_op(BinaryOp op, const Value& a, const Value& b, Renderer& r) {
  if (op == BinaryOp::kConcat) {
    std::string x = to_str(a, r.limits().max_output_bytes);
    r.append(x, to_str(b, r.limits().max_output_bytes));
    return Value(std::move(x));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  switch (op) {
    case BinaryOp::kAdd: return add(a, b, r);
    case BinaryOp::kMul: return multiply(a, b, r);
    case BinaryOp::kMod:
      if (a.is_string()) eval_fail("printf-style string formatting ('%') is not supported");
      break;
    default: break;
  }
  if (!a.is_number() || !b.is_number()) unsupported(op_text(op), a, b);
  return arithmetic(op, a, b);
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::kEq: return equals(a, b);
    case CompareOp::kNe: return !equals(a, b);
    case CompareOp::kIn: return contains(b, a);
    case CompareOp::kNotIn: return !contains(b, a);
    default: break;
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const int c = compare(a, b, op_text(op));
  switch (op) {
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
    default: return false;
  }
}

}  // namespace amusd::chat
