// Touches everything a parsed gguf::File exposes, so that a sanitizer sees any out-of-bounds read the parser let
// through. Shared by the libFuzzer harness (fuzz_gguf.cpp) and the random-mutation test (test_gguf_corrupt.cpp).
// Header-only and GGUF-only (no kernels), so the fuzzer builds from src/core and src/gguf alone.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

namespace amusd::fuzz {

// Runs fn; an amusd::Error (a rejected request) is fine, any other exception propagates.
template <class Fn>
void may_throw(Fn&& fn) {
  try {
    fn();
  } catch (const Error&) {
  }
}

// Folds every element of an array (and of its nested arrays) through the accessors that accept it.
inline uint64_t exercise_array(const gguf::Array& a) {
  uint64_t sum = a.count;
  may_throw([&] { for (float x : gguf::File::to_f32(a)) sum += uint64_t(x != 0); });
  may_throw([&] { for (int32_t x : gguf::File::to_i32(a)) sum += uint32_t(x); });
  for (std::string_view s : a.strings) sum += s.size() + (s.empty() ? 0 : uint8_t(s.back()));
  for (const gguf::Array& inner : a.arrays) sum += exercise_array(inner);
  return sum;
}

// Calls every getter on every key (type mismatches throw amusd::Error, which is expected), prints every value,
// reads every byte of every tensor. Returns a checksum so that none of the reads is optimised away.
inline uint64_t exercise(const gguf::File& f) {
  uint64_t sum = f.version() + f.alignment() + f.file_size();
  for (const std::string& key : f.keys()) {
    const gguf::Value* v = f.find(key);
    if (!v) throw std::logic_error("key '" + key + "' listed by keys() but not found");
    sum += f.value_to_string(*v).size() + f.value_to_string(*v, size_t(-1)).size() + v->raw.size();
    may_throw([&] { sum += f.get_uint(key); });
    may_throw([&] { sum += uint64_t(f.get_int(key)); });
    may_throw([&] { sum += uint64_t(f.get_float(key) != 0); });
    may_throw([&] { sum += f.get_bool(key); });
    may_throw([&] { sum += f.get_string(key).size(); });
    for (uint32_t t = 0; t <= uint32_t(gguf::ValueType::F64); ++t)
      may_throw([&] { sum += exercise_array(f.get_array(key, gguf::ValueType(t))); });
  }
  may_throw([&] { sum += f.get_uint("\x01 no such key"); });
  for (const gguf::TensorInfo& t : f.tensors()) {
    if (f.find_tensor(t.name) != &t) throw std::logic_error("tensor '" + t.name + "' not found by name");
    const int64_t row = row_bytes(t.type, t.ne[0]);
    if (uint64_t(row * t.rows()) != t.nbytes) throw std::logic_error("tensor '" + t.name + "': nbytes mismatch");
    sum += t.shape_str().size() + uint64_t(t.n_elements());
    for (uint64_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
  }
  return sum;
}

// Rewrites f with gguf::Writer and parses the result. Returns "" when every key, value and tensor survives
// unchanged, else what differs.
inline std::string round_trip_mismatch(const gguf::File& f) {
  try {
    gguf::Writer w(f.version(), f.alignment());
    for (const std::string& key : f.keys())
      if (!w.has_key(key)) w.copy_kv(f, key);  // the writer itself writes general.alignment when it is not 32
    for (const gguf::TensorInfo& t : f.tensors())
      w.add_tensor(t.name, t.type, t.ne, std::vector<uint8_t>(t.data, t.data + t.nbytes));
    const auto g = gguf::File::from_bytes(w.to_bytes(), "round-trip");
    if (g->keys().size() != f.keys().size()) return "key count differs";
    for (const std::string& key : f.keys()) {
      const gguf::Value* v = g->find(key);
      if (!v) return "key '" + key + "' lost";
      if (g->value_to_string(*v, size_t(-1)) != f.value_to_string(*f.find(key), size_t(-1)))
        return "key '" + key + "' changed value";
    }
    if (g->tensors().size() != f.tensors().size()) return "tensor count differs";
    for (size_t i = 0; i < f.tensors().size(); ++i) {
      const gguf::TensorInfo &a = f.tensors()[i], &b = g->tensors()[i];
      if (a.name != b.name || a.type != b.type || a.ne != b.ne || a.nbytes != b.nbytes ||
          std::memcmp(a.data, b.data, a.nbytes) != 0)
        return "tensor '" + a.name + "' changed";
    }
    return "";
  } catch (const Error& e) {
    return std::string("rewriting a file the reader accepted failed: ") + e.what();
  }
}

}  // namespace amusd::fuzz
