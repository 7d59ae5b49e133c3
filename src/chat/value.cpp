#include "chat/value.h"

#include <algorithm>
#include <cmath>

#include "chat/pystr.h"

namespace amusd::chat {

// ---- Dict ---------------------------------------------------------------------------------------------------------

namespace {

// The identity of a dict key: equal keys (Python ==, which makes 1, 1.0 and True equal) give equal strings.
std::string hash_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::kString: return "s" + key.as_string();
    case Value::Kind::kBool:
    case Value::Kind::kInt: return "i" + std::to_string(key.as_int());
    case Value::Kind::kFloat: {
      const double d = key.as_float();
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18)
        return "i" + std::to_string(static_cast<int64_t>(d));
      return "f" + py::format_float(d);
    }
    case Value::Kind::kNone: return "n";
    case Value::Kind::kList:
      if (key.as_list().is_tuple) {
        std::string out = "t";
        for (const Value& item : key.as_list().items) {
          std::string part = hash_key(item);
          out += std::to_string(part.size()) + ":" + part;
        }
        return out;
      }
      break;
    default: break;
  }
  eval_fail("unhashable type: '", type_name(key), "'");
}

}  // namespace

const Value* Dict::find(const Value& key) const {
  auto it = index_.find(hash_key(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

const Value* Dict::find_str(std::string_view key) const {
  auto it = index_.find("s" + std::string(key));
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Dict::set(Value key, Value value) {
  const int d = nesting_depth(value);
  if (!is_namespace()) {
    if (d + 1 > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
    depth_ = std::max(depth_, d + 1);
  }
  auto [it, inserted] = index_.try_emplace(hash_key(key), entries_.size());
  if (inserted) {
    entries_.emplace_back(std::move(key), std::move(value));
  } else {
    entries_[it->second].second = std::move(value);
  }
}

void Dict::clear() {
  entries_.clear();
  index_.clear();
  depth_ = 1;
}

// ---- constructors -------------------------------------------------------------------------------------------------

int nesting_depth(const Value& v) {
  if (v.is_list()) return v.as_list().depth;
  if (v.is_dict() && !v.as_dict().is_namespace()) return v.as_dict().depth();
  return 0;
}

Value make_list(std::vector<Value> items, bool is_tuple) {
  auto list = std::make_shared<List>();
  for (const Value& item : items) list->depth = std::max(list->depth, nesting_depth(item) + 1);
  if (list->depth > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
  list->items = std::move(items);
  list->is_tuple = is_tuple;
  return Value(std::shared_ptr<const List>(std::move(list)));
}

Value make_generator(std::vector<Value> items) {
  Value v = make_list(std::move(items));
  std::const_pointer_cast<List>(v.list_ptr())->is_generator = true;  // not shared yet
  return v;
}

std::shared_ptr<Dict> make_dict(Dict::Kind kind) { return std::make_shared<Dict>(kind); }

Value make_callable(std::string repr, std::function<Value(const CallArgs&)> fn) {
  return Value(std::make_shared<Callable>(Callable{std::move(repr), std::move(fn)}));
}

// ---- Python semantics ---------------------------------------------------------------------------------------------

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "Undefined";
    case Value::Kind::kNone: return "NoneType";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float";
    case Value::Kind::kString: return "str";
    case Value::Kind::kList: return v.as_list().is_generator ? "generator" : v.as_list().is_tuple ? "tuple" : "list";
    case Value::Kind::kDict: return v.as_dict().is_namespace() ? "Namespace" : "dict";
    case Value::Kind::kCallable: return "function";
  }
  return "?";
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return false;
    case Value::Kind::kBool: return v.as_bool();
    case Value::Kind::kInt: return v.as_int() != 0;
    case Value::Kind::kFloat: return v.as_float() != 0.0;
    case Value::Kind::kString: return !v.as_string().empty();
    case Value::Kind::kList: return v.as_list().is_generator || !v.as_list().items.empty();
    case Value::Kind::kDict: return v.as_dict().is_namespace() || v.as_dict().size() > 0;
    case Value::Kind::kCallable: return true;
  }
  return false;
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth) {
  if (depth > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      const List& x = a.as_list();
      const List& y = b.as_list();
      if (x.is_generator || y.is_generator) return &x == &y;
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals_at(x.items[i], y.items[i], depth + 1)) return false;
      return true;
    }
    case Value::Kind::kDict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.is_namespace() || y.is_namespace()) return &x == &y;
      if (x.size() != y.size()) return false;
      for (const auto& [key, value] : x.entries()) {
        const Value* other = y.find(key);
        if (!other || !equals_at(value, *other, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kCallable: return &a.as_callable() == &b.as_callable();
    default: return false;
  }
}

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_at(const Value& a, const Value& b, const char* op, int depth) {
  if (depth > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return three_way(a.as_float(), b.as_float());
    return three_way(a.as_int(), b.as_int());
  }
  if (a.is_string() && b.is_string()) return three_way(a.as_string(), b.as_string());  // UTF-8 order = code points
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple && !a.as_list().is_generator &&
      !b.as_list().is_generator) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals_at(x[i], y[i], depth + 1)) continue;
      return compare_at(x[i], y[i], op, depth + 1);
    }
    return three_way(x.size(), y.size());
  }
  eval_fail("'", op, "' not supported between instances of '", type_name(a), "' and '", type_name(b), "'");
}

[[noreturn]] void text_too_long(size_t max_bytes) {
  eval_fail("the text of a value would exceed ", max_bytes, " bytes");
}

void append_str(std::string& out, const Value& v, bool as_repr, int depth, size_t max_bytes) {
  if (depth > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
  if (out.size() > max_bytes) text_too_long(max_bytes);
  switch (v.kind()) {
    case Value::Kind::kUndefined: out += as_repr ? "Undefined" : ""; return;
    case Value::Kind::kNone: out += "None"; return;
    case Value::Kind::kBool: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); return;
    case Value::Kind::kFloat: out += py::format_float(v.as_float()); return;
    case Value::Kind::kString: out += as_repr ? py::repr(v.as_string()) : v.as_string(); return;
    case Value::Kind::kList: {
      const List& list = v.as_list();
      if (list.is_generator) {
        out += "<generator object>";
        return;
      }
      out += list.is_tuple ? "(" : "[";
      for (size_t i = 0; i < list.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_str(out, list.items[i], true, depth + 1, max_bytes);
      }
      if (list.is_tuple && list.items.size() == 1) out += ",";
      out += list.is_tuple ? ")" : "]";
      return;
    }
    case Value::Kind::kDict: {
      const Dict& dict = v.as_dict();
      out += dict.is_namespace() ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [key, value] : dict.entries()) {
        if (!first) out += ", ";
        first = false;
        append_str(out, key, true, depth + 1, max_bytes);
        out += ": ";
        append_str(out, value, true, depth + 1, max_bytes);
      }
      out += dict.is_namespace() ? "}>" : "}";
      return;
    }
    case Value::Kind::kCallable: out += v.as_callable().repr; return;
  }
}

}  // namespace

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }

int compare(const Value& a, const Value& b, const char* op) { return compare_at(a, b, op, 0); }

std::string to_str(const Value& v, size_t max_bytes) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v, false, 0, max_bytes);
  if (out.size() > max_bytes) text_too_long(max_bytes);
  return out;
}

std::string to_repr(const Value& v, size_t max_bytes) {
  std::string out;
  append_str(out, v, true, 0, max_bytes);
  if (out.size() > max_bytes) text_too_long(max_bytes);
  return out;
}

// ---- JSON ---------------------------------------------------------------------------------------------------------

namespace {

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  AMUSD_CHECK(depth <= kMaxValueDepth, "JSON value nests deeper than ", kMaxValueDepth, " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value(None{});
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value(j.get_ref<const std::string&>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(from_json_at(item, depth + 1));
      return make_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto dict = make_dict();
      for (const auto& [key, value] : j.items()) dict->set(Value(key), from_json_at(value, depth + 1));
      return Value(dict);
    }
    default: fail("cannot convert JSON value of type ", j.type_name(), " for a chat template");
  }
}

// json.dumps turns keys that are not strings into strings.
std::string json_key(const Value& key, bool ensure_ascii) {
  switch (key.kind()) {
    case Value::Kind::kString: return py::json_quote(key.as_string(), ensure_ascii);
    case Value::Kind::kNone: return "\"null\"";
    case Value::Kind::kBool: return key.as_bool() ? "\"true\"" : "\"false\"";
    case Value::Kind::kInt: return "\"" + std::to_string(key.as_int()) + "\"";
    case Value::Kind::kFloat: return "\"" + py::format_float(key.as_float()) + "\"";
    default: eval_fail("keys must be str, int, float, bool or None, not ", type_name(key));
  }
}

void append_json(std::string& out, const Value& v, const JsonStyle& style, int level) {
  if (level > kMaxValueDepth) eval_fail("values nest deeper than ", kMaxValueDepth, " levels");
  if (out.size() > style.max_bytes) text_too_long(style.max_bytes);
  auto newline = [&](int lvl) {
    if (!style.indent) return;
    out += "\n";
    for (int i = 0; i < lvl; ++i) out += *style.indent;
    if (out.size() > style.max_bytes) text_too_long(style.max_bytes);
  };
  switch (v.kind()) {
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); return;
    case Value::Kind::kFloat: {
      const double d = v.as_float();
      out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity") : py::format_float(d);
      return;
    }
    case Value::Kind::kString: out += py::json_quote(v.as_string(), style.ensure_ascii); return;
    case Value::Kind::kList: {
      if (v.as_list().is_generator) break;
      const auto& items = v.as_list().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += style.item_separator;
        newline(level + 1);
        append_json(out, items[i], style, level + 1);
      }
      newline(level);
      out += "]";
      return;
    }
    case Value::Kind::kDict: {
      const Dict& dict = v.as_dict();
      if (dict.is_namespace()) break;
      if (dict.size() == 0) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> entries;
      for (const auto& entry : dict.entries()) entries.push_back(&entry);
      if (style.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return compare(a->first, b->first, "<") < 0; });
      out += "{";
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += style.item_separator;
        newline(level + 1);
        out += json_key(entries[i]->first, style.ensure_ascii);
        out += style.key_separator;
        append_json(out, entries[i]->second, style, level + 1);
      }
      newline(level);
      out += "}";
      return;
    }
    default: break;
  }
  eval_fail("Object of type ", type_name(v), " is not JSON serializable");
}

}  // namespace

Value from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

std::string to_json(const Value& v, const JsonStyle& style) {
  std::string out;
  append_json(out, v, style, 0);
  if (out.size() > style.max_bytes) text_too_long(style.max_bytes);
  return out;
}

}  // namespace amusd::chat
