// GGUF (v2, v3) reader: memory-mapped, every read bounds-checked. Knows the file format, not the models.
//
// Layout of a file (little endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32) | tensor data (offsets relative to here, aligned)
// A string is u64 length + bytes (no terminator). An array is u32 element type + u64 count + elements.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/dtype.h"

namespace amusd::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

std::string_view value_type_name(ValueType t);

constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxDims = 4;

struct Value;

// An array value. Numeric elements stay in the file (data points at count packed little-endian elements);
// string elements are views into the file; nested arrays are parsed into `arrays`.
struct Array {
  ValueType elem = ValueType::U8;
  uint64_t count = 0;
  const uint8_t* data = nullptr;          // numeric and bool elements
  std::vector<std::string_view> strings;  // elem == STRING
  std::vector<Array> arrays;              // elem == ARRAY
};

struct Value {
  ValueType type = ValueType::U8;
  // u64 holds every unsigned type, i64 every signed one, f64 both float types.
  std::variant<uint64_t, int64_t, double, bool, std::string_view, Array> v;
  std::span<const uint8_t> raw;  // the whole key/type/value entry as stored, for copying into a new file
};

struct TensorInfo {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> ne;   // ne[0] is the contiguous (row) dimension, as in GGML
  uint64_t offset = 0;       // relative to the data section
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;

  int64_t n_elements() const;
  int64_t rows() const { return n_elements() / ne[0]; }  // product of ne[1..]
  std::string shape_str() const;                         // "[64, 512]"
};

// Read-only view of a whole GGUF file. Throws amusd::Error naming the file and what was wrong.
class File {
 public:
  // Memory-maps and parses `path`.
  static std::unique_ptr<File> open(const std::string& path);
  // Parses bytes held in memory (tests, fuzzing); `name` is used in error messages.
  static std::unique_ptr<File> from_bytes(std::vector<uint8_t> bytes, const std::string& name);

  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }

  // Tells the OS that the bytes [p, p + n) of a memory-mapped file will not be read again, so their pages can leave
  // this process's memory (they are read back from the file if they are touched after all). No effect on files read
  // from memory, or on the partial pages at either end of the range.
  void release(const uint8_t* p, size_t n) const;

  // ---- metadata ----
  const std::vector<std::string>& keys() const { return key_order_; }  // in file order
  const Value* find(std::string_view key) const;                      // nullptr if absent
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: throw if the key is missing or holds an incompatible type or an out-of-range value.
  uint64_t get_uint(std::string_view key) const;   // any integer type, value >= 0
  int64_t get_int(std::string_view key) const;     // any integer type
  double get_float(std::string_view key) const;    // f32, f64 or any integer type
  bool get_bool(std::string_view key) const;
  std::string_view get_string(std::string_view key) const;
  const Array& get_array(std::string_view key, ValueType elem) const;

  // Optional variants: nullopt if the key is absent; still throw on a wrong type.
  std::optional<uint64_t> opt_uint(std::string_view key) const;
  std::optional<int64_t> opt_int(std::string_view key) const;
  std::optional<double> opt_float(std::string_view key) const;
  std::optional<bool> opt_bool(std::string_view key) const;
  std::optional<std::string_view> opt_string(std::string_view key) const;
  const Array* opt_array(std::string_view key, ValueType elem) const;

  // Array element accessors (the array must have that element type).
  static std::vector<float> to_f32(const Array& a);    // f32 or f64 elements
  static std::vector<int32_t> to_i32(const Array& a);  // any integer elements that fit in i32

  // ---- tensors ----
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr if absent

  // One-line human-readable form of a value (arrays abbreviated), for `amusd inspect`.
  std::string value_to_string(const Value& v, size_t max_items = 8) const;

 private:
  File() = default;
  void parse();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* map_ = nullptr;              // mmap'd region, or null when reading from memory
  std::vector<uint8_t> owned_;       // bytes when reading from memory
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  std::map<std::string, Value, std::less<>> kv_;
  std::vector<std::string> key_order_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace amusd::gguf
