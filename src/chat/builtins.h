// What templates can call and look up, with jinja2's semantics (as configured by Hugging Face transformers, whose
// rendering is the reference): filters, tests, attribute and item access, the methods of str and dict, iteration and
// `in`. The global functions (range, namespace, raise_exception, ...) live in interpreter.cpp with the render state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace amusd::chat {

class Renderer;

// The filter or test of that name, or nullptr.
FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// obj.name: for a dict, its methods (items, keys, values, get) come first, then its keys; for a str, its methods.
// Missing: Undefined (hint "'dict object' has no attribute 'x'"). Throws EvalError when obj is Undefined. Methods
// charge what they build to `r`, which must outlive them (it does: it outlives every value of its render).
Value get_attr(const Value& obj, const std::string& name, Renderer& r);
// obj[key]: dict keys first, then methods; list and str indexes (negative from the end). Missing: Undefined.
// Throws EvalError when obj is Undefined.
Value get_item(const Value& obj, const Value& key, Renderer& r);
// obj[start:stop:step] for a str, list or tuple, as in Python (each bound may be None); Undefined for other objects.
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// `item in container`: substring, list element or dict key; false for Undefined. Throws EvalError for containers
// that are not iterable (None, numbers) and for a non-str item in a str.
bool contains(const Value& container, const Value& item);
// The items a for loop visits: list or tuple items, dict keys, the characters of a str, nothing for Undefined.
// Throws EvalError for other values ("'int' object is not iterable"). The strings made for the characters of a str
// are charged to r.
std::vector<Value> iterate(const Value& v, Renderer& r);

// Throws EvalError with the hint of an Undefined that was used where a value is needed.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace amusd::chat
