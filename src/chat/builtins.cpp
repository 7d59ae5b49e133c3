#include "chat/builtins.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>

#include "chat/interpreter.h"
#include "chat/operators.h"
#include "chat/pystr.h"

namespace amusd::chat {

// ---- argument binding ---------------------------------------------------------------------------------------------

namespace {

// Binds call arguments to the parameter names of a Python function (after its subject), like def f(x, a=.., b=..).
class Params {
 public:
  Params(const CallArgs& args, std::string_view fn, std::initializer_list<std::string_view> names)
      : values_(names.size(), nullptr) {
    if (args.positional.size() > names.size())
      eval_fail(fn, "() takes at most ", names.size(), " argument(s) (", args.positional.size(), " given)");
    for (size_t i = 0; i < args.positional.size(); ++i) values_[i] = &args.positional[i];
    for (const auto& [key, value] : args.keyword) {
      auto it = std::find(names.begin(), names.end(), key);
      if (it == names.end()) eval_fail(fn, "() got an unexpected keyword argument '", key, "'");
      const size_t i = static_cast<size_t>(it - names.begin());
      if (values_[i]) eval_fail(fn, "() got multiple values for argument '", key, "'");
      values_[i] = &value;
    }
  }

  bool has(size_t i) const { return values_[i] != nullptr; }
  Value get(size_t i, Value fallback = Value(None{})) const { return values_[i] ? *values_[i] : fallback; }

 private:
  std::vector<const Value*> values_;
};

int64_t to_int_arg(const Value& v, const char* what) {
  if (!v.is_integral()) eval_fail(what, " must be an integer, not '", type_name(v), "'");
  return v.as_int();
}

// By value: callers pass temporaries (Params::get returns a copy), so a reference into the argument would dangle.
std::string to_str_arg(const Value& v, const char* what) {
  if (!v.is_string()) eval_fail(what, " must be str, not ", type_name(v));
  return v.as_string();
}

std::optional<std::string> optional_str_arg(const Value& v, const char* what) {
  if (v.is_none()) return std::nullopt;
  return to_str_arg(v, what);
}

// str(v) within the render's limit on string sizes.
std::string text_of(Renderer& r, const Value& v) { return to_str(v, r.limits().max_output_bytes); }

// The str of a filter's subject, keeping Markup (jinja2's soft_str).
Value same_kind(const Value& subject, std::string s) {
  return subject.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s));
}

Value make_str_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.emplace_back(std::move(p));
  return make_list(std::move(items));
}

// Python str.splitlines(): splits at \n \r \r\n \v \f \x1c \x1d \x1e \x85 \u2028 \u2029.
std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> lines;
  const std::u32string cps = py::decode(s);
  size_t start = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                     c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) continue;
    size_t end = i + 1;
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') end = i + 2;
    lines.push_back(py::encode(std::u32string_view(cps).substr(start, (keepends ? end : i) - start)));
    start = end;
    i = end - 1;
  }
  if (start < cps.size()) lines.push_back(py::encode(std::u32string_view(cps).substr(start)));
  return lines;
}

// ---- methods of str, dict and list ----------------------------------------------------------------------------------

using MethodFn = std::function<Value(Renderer& r, const Value& self, const CallArgs& args)>;

Value bound_method(const Value& self, const std::string& name, Renderer& r, MethodFn fn) {
  return make_callable("<built-in method " + name + " of " + type_name(self) + " object>",
                       [self, &r, fn = std::move(fn)](const CallArgs& args) { return fn(r, self, args); });
}

bool starts_or_ends(const Value& self, const CallArgs& args, bool ends, const char* fn) {
  Params p(args, fn, {"prefix"});
  if (!p.has(0)) eval_fail(fn, "() takes at least 1 argument (0 given)");
  const std::string& s = self.as_string();
  auto test = [&](const Value& affix) {
    const std::string& a = to_str_arg(affix, fn);
    return ends ? s.size() >= a.size() && s.compare(s.size() - a.size(), a.size(), a) == 0 : s.rfind(a, 0) == 0;
  };
  const Value affix = p.get(0);
  if (affix.is_list() && affix.as_list().is_tuple)
    return std::any_of(affix.as_list().items.begin(), affix.as_list().items.end(), test);
  return test(affix);
}

// Python's rsplit: like split, but a limited number of splits is taken from the right.
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  if (maxsplit < 0) return py::split(s, sep, -1);
  std::vector<std::string> all = py::split(s, sep, -1);
  if (static_cast<int64_t>(all.size()) <= maxsplit + 1) return all;
  // Rejoin the leftmost pieces: with a separator exactly; on white space, from the original text.
  const size_t keep = static_cast<size_t>(maxsplit);
  std::vector<std::string> out;
  if (sep) {
    std::string head = all[0];
    for (size_t i = 1; i + keep < all.size(); ++i) head += *sep + all[i];
    out.push_back(head);
  } else {
    // Find where the (all.size() - keep)-th word from the right starts, and keep everything before it (rstripped).
    const std::u32string cps = py::decode(s);
    size_t end = cps.size();
    for (size_t w = 0; w < keep; ++w) {
      while (end > 0 && py::is_space(cps[end - 1])) --end;
      while (end > 0 && !py::is_space(cps[end - 1])) --end;
    }
    std::string head = py::strip(py::encode(std::u32string_view(cps).substr(0, end)), std::nullopt, true, true);
    out.push_back(head);
  }
  out.insert(out.end(), all.end() - static_cast<std::ptrdiff_t>(keep), all.end());
  return out;
}

// py::replace, charged to r before the result is built (replacing "" or a short text with a long one multiplies).
std::string checked_replace(Renderer& r, std::string_view s, std::string_view old_text, std::string_view new_text,
                            int64_t count) {
  uint64_t hits = 0;
  if (old_text.empty()) {
    hits = py::length(s) + 1;
  } else {
    for (size_t at = s.find(old_text); at != std::string_view::npos; at = s.find(old_text, at + old_text.size())) ++hits;
  }
  if (count >= 0) hits = std::min(hits, static_cast<uint64_t>(count));
  const uint64_t max = r.limits().max_output_bytes;
  if (new_text.size() > old_text.size() && hits > (max - std::min<uint64_t>(s.size(), max)) / (new_text.size() - old_text.size()))
    eval_fail("replace() would build a string of more than ", max, " bytes");
  std::string out = py::replace(s, old_text, new_text, count);
  r.charge_bytes(out.size());
  return out;
}

Value str_method(const Value& self, const std::string& name, Renderer& r) {
  using Fn = Value (*)(Renderer&, const Value&, const CallArgs&);
  static const std::map<std::string, Fn, std::less<>> kMethods = {
      {"strip", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "strip", {"chars"});
         return same_kind(s, py::strip(s.as_string(), optional_str_arg(p.get(0), "strip arg"), true, true));
       }},
      {"lstrip", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "lstrip", {"chars"});
         return same_kind(s, py::strip(s.as_string(), optional_str_arg(p.get(0), "lstrip arg"), true, false));
       }},
      {"rstrip", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "rstrip", {"chars"});
         return same_kind(s, py::strip(s.as_string(), optional_str_arg(p.get(0), "rstrip arg"), false, true));
       }},
      {"split", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "split", {"sep", "maxsplit"});
         auto sep = optional_str_arg(p.get(0), "split separator");
         if (sep && sep->empty()) eval_fail("empty separator");
         return make_str_list(py::split(s.as_string(), sep, to_int_arg(p.get(1, Value(-1)), "maxsplit")));
       }},
      {"rsplit", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "rsplit", {"sep", "maxsplit"});
         auto sep = optional_str_arg(p.get(0), "rsplit separator");
         if (sep && sep->empty()) eval_fail("empty separator");
         return make_str_list(rsplit(s.as_string(), sep, to_int_arg(p.get(1, Value(-1)), "maxsplit")));
       }},
      {"splitlines", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "splitlines", {"keepends"});
         return make_str_list(splitlines(s.as_string(), truthy(p.get(0, Value(false)))));
       }},
      {"startswith", [](Renderer&, const Value& s, const CallArgs& a) { return Value(starts_or_ends(s, a, false, "startswith")); }},
      {"endswith", [](Renderer&, const Value& s, const CallArgs& a) { return Value(starts_or_ends(s, a, true, "endswith")); }},
      {"upper", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "upper", {});
         return same_kind(s, py::upper(s.as_string()));
       }},
      {"lower", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "lower", {});
         return same_kind(s, py::lower(s.as_string()));
       }},
      {"title", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "title", {});
         return same_kind(s, py::title(s.as_string()));
       }},
      {"capitalize", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "capitalize", {});
         return same_kind(s, py::capitalize(s.as_string()));
       }},
      {"replace", [](Renderer& r, const Value& s, const CallArgs& a) {
         Params p(a, "replace", {"old", "new", "count"});
         if (!p.has(1)) eval_fail("replace() takes at least 2 arguments");
         return same_kind(s, checked_replace(r, s.as_string(), to_str_arg(p.get(0), "replace() argument 1"),
                                             to_str_arg(p.get(1), "replace() argument 2"),
                                             to_int_arg(p.get(2, Value(-1)), "replace() count")));
       }},
      {"find", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "find", {"sub"});
         const size_t at = s.as_string().find(to_str_arg(p.get(0), "find() argument"));
         return Value(at == std::string::npos ? int64_t{-1}
                                              : static_cast<int64_t>(py::length(s.as_string().substr(0, at))));
       }},
      {"count", [](Renderer&, const Value& s, const CallArgs& a) {
         Params p(a, "count", {"sub"});
         const std::string& sub = to_str_arg(p.get(0), "count() argument");
         if (sub.empty()) return Value::from_size(py::length(s.as_string()) + 1);
         size_t n = 0;
         for (size_t at = s.as_string().find(sub); at != std::string::npos; at = s.as_string().find(sub, at + sub.size()))
           ++n;
         return Value::from_size(n);
       }},
      {"join", [](Renderer& r, const Value& s, const CallArgs& a) {
         Params p(a, "join", {"iterable"});
         std::string out;
         bool first = true;
         for (const Value& item : iterate(p.get(0), r)) {
           if (!first) r.append(out, s.as_string());
           first = false;
           r.append(out, to_str_arg(item, "sequence item"));
         }
         return Value(std::move(out));
       }},
      {"isspace", [](Renderer&, const Value& s, const CallArgs&) {
         const std::u32string cps = py::decode(s.as_string());
         return Value(!cps.empty() && std::all_of(cps.begin(), cps.end(), py::is_space));
       }},
      {"isdigit", [](Renderer&, const Value& s, const CallArgs&) {
         const std::string& t = s.as_string();
         return Value(!t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }));
       }},
  };
  auto it = kMethods.find(name);
  if (it == kMethods.end()) return Value::undefined("'str object' has no attribute '" + name + "'");
  return bound_method(self, name, r, it->second);
}

Value dict_method(const Value& self, const std::string& name, Renderer& r) {
  if (name == "items" || name == "keys" || name == "values") {
    return bound_method(self, name, r, [name](Renderer&, const Value& d, const CallArgs& a) {
      Params p(a, name, {});
      std::vector<Value> out;
      for (const auto& [k, v] : d.as_dict().entries()) {
        if (name == "items") {
          out.push_back(make_list({k, v}, true));
        } else {
          out.push_back(name == "keys" ? k : v);
        }
      }
      return make_list(std::move(out));
    });
  }
  if (name == "get") {
    return bound_method(self, name, r, [](Renderer&, const Value& d, const CallArgs& a) {
      Params p(a, "get", {"key", "default"});
      if (!p.has(0)) eval_fail("get expected at least 1 argument, got 0");
      const Value* v = d.as_dict().find(p.get(0));
      return v ? *v : p.get(1);
    });
  }
  static const char* const kUnsafe[] = {"pop", "popitem", "setdefault", "update", "clear"};
  for (const char* unsafe : kUnsafe)
    if (name == unsafe) return Value::undefined("access to attribute '" + name + "' of 'dict' object is unsafe.");
  return Value();  // not a method
}

Value list_method(const Value& self, const std::string& name, Renderer& r) {
  static const char* const kUnsafe[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  for (const char* unsafe : kUnsafe)
    if (name == unsafe)
      return Value::undefined("access to attribute '" + name + "' of '" + type_name(self) + "' object is unsafe.");
  if (name == "index" || name == "count") {
    return bound_method(self, name, r, [name](Renderer&, const Value& l, const CallArgs& a) {
      Params p(a, name, {"value"});
      const auto& items = l.as_list().items;
      size_t n = 0;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!equals(items[i], p.get(0))) continue;
        if (name == "index") return Value::from_size(i);
        ++n;
      }
      if (name == "index") eval_fail(to_repr(p.get(0)), " is not in list");
      return Value::from_size(n);
    });
  }
  return Value::undefined("'" + std::string(type_name(self)) + " object' has no attribute '" + name + "'");
}

std::string object_name(const Value& v) {
  if (v.is_none()) return "'None'";
  return "'" + std::string(type_name(v)) + " object'";
}

}  // namespace

// ---- attribute and item access ------------------------------------------------------------------------------------

void fail_undefined(const Value& v) {
  eval_fail(v.undefined_hint().empty() ? std::string("an undefined value was used") : v.undefined_hint());
}

Value get_attr(const Value& obj, const std::string& name, Renderer& r) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: fail_undefined(obj);
    case Value::Kind::kString: return str_method(obj, name, r);
    case Value::Kind::kList: return list_method(obj, name, r);
    case Value::Kind::kDict: {
      const Dict& d = obj.as_dict();
      if (!d.is_namespace()) {
        Value method = dict_method(obj, name, r);
        if (!method.is_undefined() || !method.undefined_hint().empty()) return method;
      }
      if (const Value* v = d.find_str(name)) return *v;
      return Value::undefined(object_name(obj) + " has no attribute '" + name + "'");
    }
    default: return Value::undefined(object_name(obj) + " has no attribute '" + name + "'");
  }
}

Value get_item(const Value& obj, const Value& key, Renderer& r) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict() && !obj.as_dict().is_namespace()) {
    const bool hashable = key.is_string() || key.is_number() || key.is_none() || (key.is_list() && key.as_list().is_tuple);
    if (hashable)
      if (const Value* v = obj.as_dict().find(key)) return *v;
  } else if (obj.is_list() && obj.as_list().is_generator) {
    return Value::undefined("'generator' object is not subscriptable");
  } else if ((obj.is_list() || obj.is_string()) && key.is_integral()) {
    const int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto& items = obj.as_list().items;
      const int64_t n = static_cast<int64_t>(items.size());
      if (i >= -n && i < n) return items[static_cast<size_t>(i < 0 ? i + n : i)];
      return Value::undefined(std::string(type_name(obj)) + " object has no element " + std::to_string(i));
    }
    const std::u32string cps = py::decode(obj.as_string());
    const int64_t n = static_cast<int64_t>(cps.size());
    if (i >= -n && i < n) return Value(py::encode(std::u32string_view(cps).substr(static_cast<size_t>(i < 0 ? i + n : i), 1)));
    return Value::undefined("str object has no element " + std::to_string(i));
  }
  // jinja2 falls back to an attribute of that name (so d['items'] is the method when there is no such key).
  if (key.is_string()) {
    Value attr = get_attr(obj, key.as_string(), r);
    if (!attr.is_undefined()) return attr;
  }
  return Value::undefined(object_name(obj) + " has no attribute " + to_repr(key));
}

Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) fail_undefined(obj);
  const bool sliceable = obj.is_string() || (obj.is_list() && !obj.as_list().is_generator);
  auto bound_ok = [](const Value& v) { return v.is_none() || v.is_integral(); };
  if (!sliceable || !bound_ok(start) || !bound_ok(stop) || !bound_ok(step))
    return Value::undefined(object_name(obj) + " cannot be sliced that way");
  const int64_t st = step.is_none() ? 1 : step.as_int();
  if (st == 0) eval_fail("slice step cannot be zero");
  std::u32string cps;
  if (obj.is_string()) cps = py::decode(obj.as_string());
  const int64_t n = obj.is_string() ? static_cast<int64_t>(cps.size()) : static_cast<int64_t>(obj.as_list().items.size());
  // PySlice_AdjustIndices
  auto adjust = [&](const Value& v, int64_t dflt) {
    if (v.is_none()) return dflt;
    int64_t i = v.as_int();
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t b = adjust(start, st < 0 ? n - 1 : 0);
  const int64_t e = adjust(stop, st < 0 ? -1 : n);
  std::vector<size_t> picks;
  for (int64_t i = b; st > 0 ? i < e : i > e;) {
    picks.push_back(static_cast<size_t>(i));
    if (__builtin_add_overflow(i, st, &i)) break;  // a huge step leaves the sequence
  }
  if (obj.is_string()) {
    std::u32string out;
    for (size_t i : picks) out.push_back(cps[i]);
    return same_kind(obj, py::encode(out));
  }
  std::vector<Value> items;
  for (size_t i : picks) items.push_back(obj.as_list().items[i]);
  return make_list(std::move(items), obj.as_list().is_tuple);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!item.is_string())
        eval_fail("'in <string>' requires string as left operand, not ", type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList: {
      const auto& items = container.as_list().items;
      return std::any_of(items.begin(), items.end(), [&](const Value& v) { return equals(v, item); });
    }
    case Value::Kind::kDict:
      if (container.as_dict().is_namespace()) break;
      return container.as_dict().find(item) != nullptr;
    default: break;
  }
  eval_fail("argument of type '", type_name(container), "' is not iterable");
}

std::vector<Value> iterate(const Value& v, Renderer& r) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.as_list().items;
    case Value::Kind::kString: {
      const std::u32string cps = py::decode(v.as_string());
      r.charge_bytes(cps.size() * sizeof(Value));
      std::vector<Value> out;
      out.reserve(cps.size());
      for (char32_t c : cps) out.emplace_back(py::encode(std::u32string(1, c)));
      return out;
    }
    case Value::Kind::kDict: {
      if (v.as_dict().is_namespace()) break;
      std::vector<Value> out;
      for (const auto& entry : v.as_dict().entries()) out.push_back(entry.first);
      return out;
    }
    default: break;
  }
  eval_fail("'", type_name(v), "' object is not iterable");
}

// ---- filters ------------------------------------------------------------------------------------------------------

namespace {

// Attribute lookup as jinja2's make_attrgetter: dotted path, each part an item lookup (integer parts index lists).
Value attribute_of(const Value& item, const std::string& path, Renderer& r) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    int64_t index = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    const bool numeric = !part.empty() && ec == std::errc() && end == part.data() + part.size();
    v = get_item(v, numeric ? Value(index) : Value(part), r);
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

Value f_abs(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "abs", {});
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) eval_fail("integer overflow (values are 64-bit)");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  eval_fail("bad operand type for abs(): '", type_name(v), "'");
}

Value f_attr(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "attr", {"name"});
  return get_attr(v, to_str_arg(p.get(0), "attr() name"), ctx.renderer());
}

Value f_capitalize(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "capitalize", {});
  return same_kind(v, py::capitalize(to_str(v)));
}

Value f_center(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "center", {"width"});
  const std::string s = to_str(v);
  const int64_t width = to_int_arg(p.get(0, Value(80)), "center() width");
  const int64_t len = static_cast<int64_t>(py::length(s));
  if (width <= len) return Value(s);
  ctx.renderer().charge_bytes(static_cast<uint64_t>(width - len) + s.size());
  const int64_t margin = width - len;
  const int64_t left = margin / 2 + (margin & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(margin - left), ' '));
}

Value f_length(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "length", {});
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value(0);
    case Value::Kind::kString: return Value::from_size(py::length(v.as_string()));
    case Value::Kind::kList:
      if (v.as_list().is_generator) break;
      return Value::from_size(v.as_list().items.size());
    case Value::Kind::kDict:
      if (v.as_dict().is_namespace()) break;
      return Value::from_size(v.as_dict().size());
    default: break;
  }
  eval_fail("object of type '", type_name(v), "' has no len()");
}

Value f_default(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "default", {"default_value", "boolean"});
  const bool use_default = v.is_undefined() || (truthy(p.get(1, Value(false))) && !truthy(v));
  return use_default ? p.get(0, Value("")) : v;
}

Value f_escape(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "escape", {});
  if (v.is_markup()) return v;
  return Value::markup(html_escape(to_str(v)));
}

Value f_first(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "first", {});
  std::vector<Value> items = iterate(v, ctx.renderer());
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "last", {});
  if (v.is_list() && v.as_list().is_generator) eval_fail("'generator' object is not reversible");
  std::vector<Value> items = iterate(v, ctx.renderer());
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

// Python float(str): optional white space, sign, digits with single underscores, inf / nan.
std::optional<double> parse_float(const std::string& text) {
  std::string s = py::strip(text, std::nullopt, true, true);
  std::string digits;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i - 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 1])))
      continue;
    digits.push_back(s[i]);
  }
  if (digits.empty()) return std::nullopt;
  const char* b = digits.data() + (digits[0] == '+' ? 1 : 0);
  const char* e = digits.data() + digits.size();
  double v = 0;
  auto [end, ec] = std::from_chars(b, e, v);
  if (end != e || (ec != std::errc() && ec != std::errc::result_out_of_range)) return std::nullopt;
  return v;
}

// Python int(str, base): optional white space, sign, digits with single underscores.
std::optional<int64_t> parse_int(const std::string& text, int base) {
  std::string s = py::strip(text, std::nullopt, true, true);
  if (s.empty()) return std::nullopt;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    ++i;
  }
  std::string digits;
  for (; i < s.size(); ++i) {
    if (s[i] == '_' && !digits.empty() && i + 1 < s.size() && s[i + 1] != '_') continue;
    digits.push_back(s[i]);
  }
  if (negative) digits.insert(digits.begin(), '-');
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

Value f_float(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "float", {"default"});
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string())
    if (auto d = parse_float(v.as_string())) return Value(*d);
  return p.get(0, Value(0.0));
}

Value f_int(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "int", {"default", "base"});
  if (v.is_integral()) return Value(v.as_int());
  if (v.is_float() && std::isfinite(v.as_float()) && std::fabs(v.as_float()) < 9.2e18)
    return Value(static_cast<int64_t>(v.as_float()));
  if (v.is_string()) {
    const int64_t base = to_int_arg(p.get(1, Value(10)), "int() base");
    if (base < 2 || base > 36) eval_fail("int() base must be >= 2 and <= 36");
    if (auto i = parse_int(v.as_string(), static_cast<int>(base))) return Value(*i);
    if (auto d = parse_float(v.as_string()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
      return Value(static_cast<int64_t>(*d));
  }
  return p.get(0, Value(0));
}

Value f_indent(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "indent", {"width", "first", "blank"});
  const Value width = p.get(0, Value(4));
  std::string indention;
  if (width.is_string()) {
    indention = width.as_string();
  } else {
    const int64_t w = to_int_arg(width, "indent() width");
    if (w > 0) {
      ctx.renderer().charge_bytes(static_cast<uint64_t>(w));
      indention.assign(static_cast<size_t>(w), ' ');
    }
  }
  Renderer& r = ctx.renderer();
  const std::string s = text_of(r, v) + "\n";  // jinja2 appends a newline so that splitlines() keeps a trailing empty line
  const std::vector<std::string> lines = splitlines(s, false);
  const bool blank = truthy(p.get(2, Value(false)));  // indent blank lines too
  std::string out;
  if (truthy(p.get(1, Value(false)))) r.append(out, indention);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      r.append(out, "\n");
      if (blank || !lines[i].empty()) r.append(out, indention);
    }
    r.append(out, lines[i]);
  }
  return Value(std::move(out));
}

Value f_items(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "items", {});
  if (v.is_undefined()) return make_list({});
  if (!v.is_dict() || v.as_dict().is_namespace()) eval_fail("can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().entries()) out.push_back(make_list({k, val}, true));
  return make_list(std::move(out));
}

Value f_join(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "join", {"d", "attribute"});
  Renderer& r = ctx.renderer();
  const std::string sep = text_of(r, p.get(0, Value("")));
  const Value attribute = p.get(1);
  std::string out;
  bool first = true;
  for (const Value& item : iterate(v, r)) {
    if (!first) r.append(out, sep);
    first = false;
    r.append(out, text_of(r, attribute.is_none() ? item : attribute_of(item, to_str(attribute), r)));
  }
  return Value(std::move(out));
}

Value f_list(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "list", {});
  return make_list(iterate(v, ctx.renderer()));
}

Value f_lower(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "lower", {});
  return same_kind(v, py::lower(to_str(v)));
}

Value f_upper(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "upper", {});
  return same_kind(v, py::upper(to_str(v)));
}

// jinja2's title filter: each word (split at white space, '-', and opening brackets) gets its first character
// upper-cased and the rest lower-cased.
Value f_title(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "title", {});
  std::string out;
  bool word_start = true;
  for (char32_t c : py::decode(to_str(v))) {
    const bool separator = py::is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    py::append_utf8(out, separator ? c : word_start ? py::to_upper(c) : py::to_lower(c));
    word_start = separator;
  }
  return same_kind(v, std::move(out));
}

Value f_trim(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "trim", {"chars"});
  return same_kind(v, py::strip(to_str(v), optional_str_arg(p.get(0), "trim() chars"), true, true));
}

Value f_string(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "string", {});
  return v.is_string() ? v : Value(text_of(ctx.renderer(), v));
}

Value f_safe(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "safe", {});
  return Value::markup(to_str(v));
}

Value f_replace(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "replace", {"old", "new", "count"});
  const Value count = p.get(2);
  Renderer& r = ctx.renderer();
  return Value(checked_replace(r, text_of(r, v), text_of(r, p.get(0)), text_of(r, p.get(1)),
                               count.is_none() ? -1 : to_int_arg(count, "replace() count")));
}

Value f_reverse(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "reverse", {});
  if (v.is_string()) {
    std::u32string cps = py::decode(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value(py::encode(cps));
  }
  std::vector<Value> items = iterate(v, ctx.renderer());
  std::reverse(items.begin(), items.end());
  return make_list(std::move(items));
}

Value f_round(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "round", {"precision", "method"});
  const int64_t precision = to_int_arg(p.get(0, Value(0)), "round() precision");
  const std::string method = to_str(p.get(1, Value("common")));
  if (!v.is_number()) eval_fail("round() needs a number, not '", type_name(v), "'");
  const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -308, 308)));
  const double x = v.as_float() * scale;
  double r = 0;
  if (method == "common") {
    r = std::nearbyint(x);  // Python's round(): halves to even (default rounding mode)
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    eval_fail("method must be common, ceil or floor");
  }
  return Value(r / scale);
}

// Key for sorting and comparing in min/max/sort/unique: case-insensitive strings unless case_sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive, Renderer& r) {
  Value v = attribute.is_none() ? item : attribute_of(item, to_str(attribute), r);
  if (!case_sensitive && v.is_string()) return Value(py::lower(v.as_string()));
  return v;
}

Value f_sort(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "sort", {"reverse", "case_sensitive", "attribute"});
  const bool reverse = truthy(p.get(0, Value(false)));
  const bool case_sensitive = truthy(p.get(1, Value(false)));
  std::vector<Value> items = iterate(v, ctx.renderer());
  std::vector<std::pair<Value, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i) keyed.emplace_back(sort_key(items[i], p.get(2), case_sensitive, ctx.renderer()), i);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(y.first, x.first, "<") < 0 : compare(x.first, y.first, "<") < 0;
  });
  std::vector<Value> out;
  for (const auto& k : keyed) out.push_back(items[k.second]);
  return make_list(std::move(out));
}

Value f_dictsort(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "dictsort", {"case_sensitive", "by", "reverse"});
  if (!v.is_dict() || v.as_dict().is_namespace()) eval_fail("dictsort() needs a dict, not '", type_name(v), "'");
  const bool case_sensitive = truthy(p.get(0, Value(false)));
  const std::string by = to_str(p.get(1, Value("key")));
  if (by != "key" && by != "value") eval_fail("You can only sort by either 'key' or 'value'");
  const bool reverse = truthy(p.get(2, Value(false)));
  std::vector<std::pair<Value, Value>> entries = v.as_dict().entries();
  auto key = [&](const std::pair<Value, Value>& e) { return sort_key(by == "key" ? e.first : e.second, Value(None{}), case_sensitive, ctx.renderer()); };
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(key(y), key(x), "<") < 0 : compare(key(x), key(y), "<") < 0;
  });
  std::vector<Value> out;
  for (auto& [k, val] : entries) out.push_back(make_list({k, val}, true));
  return make_list(std::move(out));
}

Value min_max(Context& ctx, const Value& v, const CallArgs& a, bool want_max) {
  Params p(a, want_max ? "max" : "min", {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(p.get(0, Value(false)));
  std::vector<Value> items = iterate(v, ctx.renderer());
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    const int c = compare(sort_key(items[i], p.get(1), case_sensitive, ctx.renderer()),
                          sort_key(items[best], p.get(1), case_sensitive, ctx.renderer()), "<");
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}

Value f_max(Context& ctx, const Value& v, const CallArgs& a) { return min_max(ctx, v, a, true); }
Value f_min(Context& ctx, const Value& v, const CallArgs& a) { return min_max(ctx, v, a, false); }

Value f_sum(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "sum", {"attribute", "start"});
  Value total = p.get(1, Value(0));
  for (const Value& item : iterate(v, ctx.renderer()))
    total = binary_op(BinaryOp::kAdd, total,
                      p.get(0).is_none() ? item : attribute_of(item, to_str(p.get(0)), ctx.renderer()), ctx.renderer());
  return total;
}

Value f_unique(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "unique", {"case_sensitive", "attribute"});
  const bool case_sensitive = truthy(p.get(0, Value(false)));
  std::vector<Value> out, seen;
  for (const Value& item : iterate(v, ctx.renderer())) {
    Value key = sort_key(item, p.get(1), case_sensitive, ctx.renderer());
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(std::move(key));
    out.push_back(item);
  }
  return make_generator(std::move(out));
}

// HF's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value f_tojson(Context& ctx, const Value& v, const CallArgs& a) {
  Params p(a, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonStyle style;
  style.ensure_ascii = truthy(p.get(0, Value(false)));
  const Value indent = p.get(1);
  if (indent.is_string()) {
    style.indent = indent.as_string();
  } else if (!indent.is_none()) {
    const int64_t n = to_int_arg(indent, "tojson() indent");
    if (n > 1000) eval_fail("tojson() indent ", n, " is too large");
    style.indent = std::string(static_cast<size_t>(std::max<int64_t>(n, 0)), ' ');
  }
  style.item_separator = style.indent ? "," : ", ";
  const Value separators = p.get(2);
  if (!separators.is_none()) {
    if (!separators.is_list() || separators.as_list().items.size() != 2)
      eval_fail("tojson() separators must be an (item_separator, key_separator) pair");
    style.item_separator = to_str_arg(separators.as_list().items[0], "tojson() item separator");
    style.key_separator = to_str_arg(separators.as_list().items[1], "tojson() key separator");
  }
  style.sort_keys = truthy(p.get(3, Value(false)));
  style.max_bytes = ctx.renderer().limits().max_output_bytes;
  std::string out = to_json(v, style);
  ctx.renderer().charge_bytes(out.size());
  return Value(std::move(out));
}

// map(attribute='x', default=d) or map('filter', args...).
Value f_map(Context& ctx, const Value& v, const CallArgs& a) {
  if (!truthy(v)) return make_generator({});  // jinja2 maps nothing over a false value (None, "", [])
  std::vector<Value> items = iterate(v, ctx.renderer());
  std::vector<Value> out;
  if (a.positional.empty()) {
    Params p(a, "map", {"attribute", "default"});
    if (!p.has(0)) eval_fail("map() needs a filter name or attribute=");
    const std::string attribute = to_str(p.get(0));
    for (const Value& item : items) {
      Value x = attribute_of(item, attribute, ctx.renderer());
      out.push_back(x.is_undefined() && p.has(1) ? p.get(1) : x);
    }
    return make_generator(std::move(out));
  }
  const std::string& name = to_str_arg(a.positional[0], "map() filter name");
  const FilterFn fn = find_filter(name);
  if (!fn) eval_fail("no filter named '", name, "'");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& item : items) out.push_back(fn(ctx, item, rest));
  return make_generator(std::move(out));
}

// select/reject(test, args...) and selectattr/rejectattr(attribute, test, args...).
Value select_items(Context& ctx, const Value& v, const CallArgs& a, bool by_attribute, bool keep_matches) {
  const char* fn_name = by_attribute ? (keep_matches ? "selectattr" : "rejectattr") : (keep_matches ? "select" : "reject");
  if (!truthy(v)) return make_generator({});  // jinja2 selects nothing from a false value (None, "", [])
  if (!a.keyword.empty()) eval_fail(fn_name, "() takes no keyword arguments");
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (a.positional.empty()) eval_fail(fn_name, "() needs an attribute name");
    attribute = to_str(a.positional[next++]);
  }
  TestFn test = nullptr;
  if (next < a.positional.size()) {
    const std::string& name = to_str_arg(a.positional[next++], "test name");
    test = find_test(name);
    if (!test) eval_fail("no test named '", name, "'");
  }
  CallArgs test_args;
  test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(next), a.positional.end());
  std::vector<Value> out;
  for (const Value& item : iterate(v, ctx.renderer())) {
    const Value subject = by_attribute ? attribute_of(item, attribute, ctx.renderer()) : item;
    const bool matches = test ? test(ctx, subject, test_args) : truthy(subject);
    if (matches == keep_matches) out.push_back(item);
  }
  return make_generator(std::move(out));
}

Value f_select(Context& ctx, const Value& v, const CallArgs& a) { return select_items(ctx, v, a, false, true); }
Value f_reject(Context& ctx, const Value& v, const CallArgs& a) { return select_items(ctx, v, a, false, false); }
Value f_selectattr(Context& ctx, const Value& v, const CallArgs& a) { return select_items(ctx, v, a, true, true); }
Value f_rejectattr(Context& ctx, const Value& v, const CallArgs& a) { return select_items(ctx, v, a, true, false); }

Value f_wordcount(Context&, const Value& v, const CallArgs& a) {
  Params p(a, "wordcount", {});
  return Value::from_size(py::split(to_str(v), std::nullopt, -1).size());
}

// ---- tests --------------------------------------------------------------------------------------------------------

const Value& test_arg(const CallArgs& a, const char* test) {
  if (a.positional.size() != 1 || !a.keyword.empty()) eval_fail("test '", test, "' takes exactly one argument");
  return a.positional[0];
}

void no_test_args(const CallArgs& a, const char* test) {
  if (!a.positional.empty() || !a.keyword.empty()) eval_fail("test '", test, "' takes no arguments");
}

bool parity(const Value& v, int64_t want) {
  if (v.is_integral()) return ((v.as_int() % 2) + 2) % 2 == want;
  if (v.is_float()) return std::fmod(std::fabs(v.as_float()), 2.0) == static_cast<double>(want);
  eval_fail("'", type_name(v), "' has no parity");
}

bool has_case(const Value& v, bool upper) {  // str.isupper() / str.islower()
  bool cased = false;
  for (char32_t c : py::decode(to_str(v))) {
    const bool is_upper = py::to_lower(c) != c;
    const bool is_lower = py::to_upper(c) != c;
    if (upper ? is_lower : is_upper) return false;
    cased = cased || is_upper || is_lower;
  }
  return cased;
}

bool ordered(const Value& v, const CallArgs& a, CompareOp op, const char* name) {
  return compare_op(op, v, test_arg(a, name));
}

#define AMUSD_TEST(fn_name, test_name, expr)                      \
  bool fn_name(Context&, const Value& v, const CallArgs& a) {     \
    no_test_args(a, test_name);                                   \
    return (expr);                                                \
  }
AMUSD_TEST(t_defined, "defined", !v.is_undefined())
AMUSD_TEST(t_undefined, "undefined", v.is_undefined())
AMUSD_TEST(t_none, "none", v.is_none())
AMUSD_TEST(t_boolean, "boolean", v.is_bool())
AMUSD_TEST(t_true, "true", v.is_bool() && v.as_bool())
AMUSD_TEST(t_false, "false", v.is_bool() && !v.as_bool())
AMUSD_TEST(t_string, "string", v.is_string())
AMUSD_TEST(t_number, "number", v.is_number())
AMUSD_TEST(t_integer, "integer", v.is_int())
AMUSD_TEST(t_float, "float", v.is_float())
AMUSD_TEST(t_mapping, "mapping", v.is_dict() && !v.as_dict().is_namespace())
AMUSD_TEST(t_iterable, "iterable",
           v.is_undefined() || v.is_string() || v.is_list() || (v.is_dict() && !v.as_dict().is_namespace()))
AMUSD_TEST(t_sequence, "sequence",
           v.is_undefined() || v.is_string() || (v.is_list() && !v.as_list().is_generator) || (v.is_dict() && !v.as_dict().is_namespace()))
AMUSD_TEST(t_callable, "callable", v.is_callable())
AMUSD_TEST(t_escaped, "escaped", v.is_markup())
AMUSD_TEST(t_even, "even", parity(v, 0))
AMUSD_TEST(t_odd, "odd", parity(v, 1))
AMUSD_TEST(t_lower, "lower", has_case(v, false))
AMUSD_TEST(t_upper, "upper", has_case(v, true))
AMUSD_TEST(t_filter, "filter", v.is_string() && find_filter(v.as_string()) != nullptr)
AMUSD_TEST(t_test, "test", v.is_string() && find_test(v.as_string()) != nullptr)
#undef AMUSD_TEST

bool t_eq(Context&, const Value& v, const CallArgs& a) { return equals(v, test_arg(a, "eq")); }
bool t_ne(Context&, const Value& v, const CallArgs& a) { return !equals(v, test_arg(a, "ne")); }
bool t_lt(Context&, const Value& v, const CallArgs& a) { return ordered(v, a, CompareOp::kLt, "lt"); }
bool t_le(Context&, const Value& v, const CallArgs& a) { return ordered(v, a, CompareOp::kLe, "le"); }
bool t_gt(Context&, const Value& v, const CallArgs& a) { return ordered(v, a, CompareOp::kGt, "gt"); }
bool t_ge(Context&, const Value& v, const CallArgs& a) { return ordered(v, a, CompareOp::kGe, "ge"); }
bool t_in(Context&, const Value& v, const CallArgs& a) { return contains(test_arg(a, "in"), v); }

bool t_divisibleby(Context&, const Value& v, const CallArgs& a) {
  const Value& n = test_arg(a, "divisibleby");
  if (!v.is_number() || !n.is_number()) eval_fail("divisibleby needs numbers");
  if (v.is_float() || n.is_float()) {
    if (n.as_float() == 0) eval_fail("float modulo");
    return std::fmod(v.as_float(), n.as_float()) == 0;
  }
  if (n.as_int() == 0) eval_fail("integer division or modulo by zero");
  return n.as_int() == -1 || v.as_int() % n.as_int() == 0;
}

// Python `is`: the same object. Scalars compare by value (CPython shares None, booleans and small ints).
bool t_sameas(Context&, const Value& v, const CallArgs& a) {
  const Value& other = test_arg(a, "sameas");
  if (v.kind() != other.kind()) return false;
  switch (v.kind()) {
    case Value::Kind::kList: return v.list_ptr() == other.list_ptr();
    case Value::Kind::kDict: return v.dict_ptr() == other.dict_ptr();
    case Value::Kind::kCallable: return &v.as_callable() == &other.as_callable();
    default: return equals(v, other);
  }
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  static const std::map<std::string, FilterFn, std::less<>> kFilters = {
      {"abs", f_abs},           {"attr", f_attr},       {"capitalize", f_capitalize}, {"center", f_center},
      {"count", f_length},      {"d", f_default},       {"default", f_default},       {"dictsort", f_dictsort},
      {"e", f_escape},          {"escape", f_escape},   {"first", f_first},           {"float", f_float},
      {"indent", f_indent},     {"int", f_int},         {"items", f_items},           {"join", f_join},
      {"last", f_last},         {"length", f_length},   {"list", f_list},             {"lower", f_lower},
      {"map", f_map},           {"max", f_max},         {"min", f_min},               {"reject", f_reject},
      {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},   {"round", f_round},
      {"safe", f_safe},         {"select", f_select},   {"selectattr", f_selectattr}, {"sort", f_sort},
      {"string", f_string},     {"sum", f_sum},         {"title", f_title},           {"tojson", f_tojson},
      {"trim", f_trim},         {"unique", f_unique},   {"upper", f_upper},           {"wordcount", f_wordcount},
  };
  auto it = kFilters.find(name);
  return it == kFilters.end() ? nullptr : it->second;
}

TestFn find_test(std::string_view name) {
  static const std::map<std::string, TestFn, std::less<>> kTests = {
      {"boolean", t_boolean},   {"callable", t_callable}, {"defined", t_defined},     {"divisibleby", t_divisibleby},
      {"eq", t_eq},             {"equalto", t_eq},        {"escaped", t_escaped},     {"even", t_even},
      {"false", t_false},       {"filter", t_filter},     {"float", t_float},         {"ge", t_ge},
      {"greaterthan", t_gt},    {"gt", t_gt},             {"in", t_in},               {"integer", t_integer},
      {"iterable", t_iterable}, {"le", t_le},             {"lessthan", t_lt},         {"lower", t_lower},
      {"lt", t_lt},             {"mapping", t_mapping},   {"ne", t_ne},               {"none", t_none},
      {"number", t_number},     {"odd", t_odd},           {"sameas", t_sameas},       {"sequence", t_sequence},
      {"string", t_string},     {"test", t_test},         {"true", t_true},           {"undefined", t_undefined},
      {"upper", t_upper},
  };
  auto it = kTests.find(name);
  return it == kTests.end() ? nullptr : it->second;
}

}  // namespace amusd::chat
