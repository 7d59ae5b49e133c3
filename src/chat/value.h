// The values a chat template computes with: Python's None, bool, int, float, str, list/tuple, dict, callables, plus
// Jinja's Undefined (what a missing variable, key or attribute evaluates to). Lists are immutable once built, so
// they are shared freely; dicts are immutable too except namespaces (jinja2's namespace(), the one object a template
// may assign attributes to).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace amusd::chat {

// A failure while evaluating (a type error, a missing argument, ...), raised where the template position is not
// known; the evaluator rethrows it as amusd::Error with the line and column of the expression that failed.
class EvalError : public std::runtime_error {
 public:
  explicit EvalError(const std::string& what) : std::runtime_error(what) {}
};

template <class... Args>
[[noreturn]] void eval_fail(const Args&... args) {
  throw EvalError(str_cat(args...));
}

// Lists and dicts nest at most this deep (JSON input, values built by a template), so that printing, comparing and
// destroying them cannot exhaust the stack.
constexpr int kMaxValueDepth = 200;

class Value;
class Dict;

struct Undefined {
  std::string hint;  // why it is undefined, for the error raised when it is used: "'x' is undefined"
};
struct None {};

struct List {
  std::vector<Value> items;
  bool is_tuple = false;      // printed as (a, b); never equal to a list
  bool is_generator = false;  // what jinja2's map/select/... filters return: iterable once, always true, no len(),
                              // not JSON, equal only to itself (modelled as its items)
  int depth = 1;          // 1 + the deepest list or dict among items
};

// Arguments of a call: f(positional..., name=keyword...).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Callable {
  std::string repr;                                // "<Macro 'name'>", "<built-in function range>"
  std::function<Value(const CallArgs& args)> fn;   // may throw EvalError or amusd::Error
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kCallable };

  Value() = default;  // Undefined with no hint
  Value(Undefined u) : v_(std::move(u)) {}
  Value(None) : v_(None{}) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::make_shared<const std::string>(std::move(s))) {}
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(std::shared_ptr<const List> l) : v_(std::move(l)) {}
  Value(std::shared_ptr<Dict> d) : v_(std::move(d)) {}
  Value(std::shared_ptr<Callable> c) : v_(std::move(c)) {}

  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  // A str marked safe (jinja2's Markup, from the `safe` and `escape` filters): `+` HTML-escapes plain operands.
  static Value markup(std::string s) {
    Value v(std::move(s));
    v.markup_ = true;
    return v;
  }
  static Value from_size(size_t n) { return Value(static_cast<int64_t>(n)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python: bool is an int
  bool is_integral() const { return is_bool() || is_int(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_callable() const { return kind() == Kind::kCallable; }
  bool is_markup() const { return markup_ && is_string(); }

  // Accessors; each requires the matching kind.
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }  // requires is_integral
  double as_float() const { return is_float() ? std::get<double>(v_) : static_cast<double>(as_int()); }  // is_number
  const std::string& as_string() const { return *std::get<std::shared_ptr<const std::string>>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const std::shared_ptr<const List>& list_ptr() const { return std::get<std::shared_ptr<const List>>(v_); }
  Dict& as_dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  const std::shared_ptr<Dict>& dict_ptr() const { return std::get<std::shared_ptr<Dict>>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(v_); }

 private:
  // In the order of Kind. Strings are shared, immutable like lists: copying a value never copies text, so a list
  // that holds one long string many times costs what the render was charged for it.
  std::variant<Undefined, None, bool, int64_t, double, std::shared_ptr<const std::string>, std::shared_ptr<const List>,
               std::shared_ptr<Dict>, std::shared_ptr<Callable>>
      v_;
  bool markup_ = false;
};

// An insertion-ordered dict (Python 3.7+ semantics): keys are hashable values (None, bool, int, float, str, tuple),
// with 1 == 1.0 == True naming the same entry.
class Dict {
 public:
  enum class Kind { kDict, kNamespace };
  explicit Dict(Kind kind = Kind::kDict) : kind_(kind) {}

  Kind kind() const { return kind_; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  size_t size() const { return entries_.size(); }
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }
  int depth() const { return depth_; }

  const Value* find(const Value& key) const;  // nullptr when absent; throws EvalError for an unhashable key
  const Value* find_str(std::string_view key) const;
  // Replaces the value of an equal key (keeping its place), or appends. Throws EvalError for an unhashable key or
  // when the value nests too deep.
  void set(Value key, Value value);
  void clear();

 private:
  Kind kind_;
  std::vector<std::pair<Value, Value>> entries_;
  std::unordered_map<std::string, size_t> index_;  // hash_key(key) -> position in entries_
  int depth_ = 1;
};

// ---- constructors -------------------------------------------------------------------------------------------------

// A list (or tuple) of items; throws EvalError when it would nest deeper than kMaxValueDepth.
Value make_list(std::vector<Value> items, bool is_tuple = false);
Value make_generator(std::vector<Value> items);
std::shared_ptr<Dict> make_dict(Dict::Kind kind = Dict::Kind::kDict);
Value make_callable(std::string repr, std::function<Value(const CallArgs&)> fn);

// Nesting depth of a value as a container element: 1 + depth of a list or plain dict, 1 for anything else.
int nesting_depth(const Value& v);

// ---- Python semantics ---------------------------------------------------------------------------------------------

const char* type_name(const Value& v);         // 'str', 'int', 'list', 'NoneType', ... as Python's type(v).__name__
bool truthy(const Value& v);                   // bool(v); Undefined is false
bool equals(const Value& a, const Value& b);   // a == b
// -1, 0 or 1 for a < b, a == b, a > b (numbers, strings, lists of those); throws EvalError for other pairs.
int compare(const Value& a, const Value& b, const char* op);
// The longest text to_str / to_repr / to_json build for a container unless told otherwise (a list that holds one long
// string a million times must fail, not exhaust memory). Renders pass RenderLimits::max_output_bytes instead.
constexpr size_t kMaxPrintedBytes = size_t(64) << 20;
// str(v); Undefined prints as "". Throws EvalError when the text of a list or dict would exceed max_bytes.
std::string to_str(const Value& v, size_t max_bytes = kMaxPrintedBytes);
std::string to_repr(const Value& v, size_t max_bytes = kMaxPrintedBytes);  // repr(v), the same way

// ---- JSON ---------------------------------------------------------------------------------------------------------

// Converts parsed JSON (objects keep their key order). Throws amusd::Error when it nests deeper than kMaxValueDepth.
Value from_json(const nlohmann::ordered_json& j);

// The layout options of Python's json.dumps.
struct JsonStyle {
  std::optional<std::string> indent;  // newline + this per level; nullopt: one line
  std::string item_separator;         // ", " on one line, "," when indented
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
  size_t max_bytes = kMaxPrintedBytes;  // the longest text to build
};
// json.dumps(v) with that style; throws EvalError for values JSON cannot hold (Undefined, callables, namespaces) and
// when the text would exceed style.max_bytes.
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace amusd::chat
