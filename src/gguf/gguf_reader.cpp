#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf.h"

namespace amusd::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;         // "GGUF" read as little-endian u32
constexpr uint32_t kMagicSwapped = 0x47475546;  // a big-endian file
constexpr uint64_t kMaxStringLen = 1ull << 30;  // 1 GiB: longer is corruption, not a real key or token
constexpr int kMaxArrayDepth = 4;

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    default: return 0;
  }
}

bool valid_value_type(uint32_t t) { return t <= uint32_t(ValueType::F64); }

// A name from the file as it may appear in an error message: control and non-ASCII bytes escaped as \xNN.
std::string printable(std::string_view s, size_t max_len = 200) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const unsigned char ch = s[i];
    if (ch >= 32 && ch < 127) {
      out += char(ch);
    } else {
      out += "\\x";
      out += "0123456789abcdef"[ch >> 4];
      out += "0123456789abcdef"[ch & 15];
    }
  }
  if (s.size() > max_len) out += "...";
  return out;
}

// Sequential bounds-checked reader over the file bytes. Every failure names the file and the position.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* base, uint64_t size) : path_(path), base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  // What is being read, for error messages: "key 'general.name'", "tensor 'output.weight'".
  void set_context(std::string context) { context_ = std::move(context); }

  template <class... A>
  [[noreturn]] void error(const A&... a) const {
    fail(path_, ": ", context_, context_.empty() ? "" : ": ", a..., " (at byte offset ", pos_, ", file size ", size_,
         ")");
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) error("truncated file: ", what, " needs ", n, " bytes, only ", remaining(), " left");
  }

  const uint8_t* take(uint64_t n, std::string_view what) {
    need(n, what);
    const uint8_t* p = base_ + pos_;
    pos_ += n;
    return p;
  }

  template <class T>
  T read(std::string_view what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what), sizeof(T));
    return v;
  }

  std::string_view read_string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > kMaxStringLen) error(what, ": string length ", n, " is absurd (limit ", kMaxStringLen, ")");
    const uint8_t* p = take(n, what);
    return {reinterpret_cast<const char*>(p), size_t(n)};
  }

 private:
  const std::string& path_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string context_;
};

Array read_array(Cursor& c, int depth) {
  if (depth > kMaxArrayDepth) c.error("arrays nested deeper than ", kMaxArrayDepth);
  Array a;
  const uint32_t elem = c.read<uint32_t>("array element type");
  if (!valid_value_type(elem)) c.error("unknown array element type ", elem);
  a.elem = ValueType(elem);
  a.count = c.read<uint64_t>("array length");
  if (a.elem == ValueType::STRING) {
    // each string needs at least its 8-byte length
    if (a.count > c.remaining() / 8)
      c.error("array of ", a.count, " strings cannot fit in the remaining ", c.remaining(), " bytes");
    a.strings.reserve(a.count);
    for (uint64_t i = 0; i < a.count; ++i) a.strings.push_back(c.read_string("array string"));
  } else if (a.elem == ValueType::ARRAY) {
    if (a.count > c.remaining() / 12)
      c.error("array of ", a.count, " arrays cannot fit in the remaining ", c.remaining(), " bytes");
    a.arrays.reserve(a.count);
    for (uint64_t i = 0; i < a.count; ++i) a.arrays.push_back(read_array(c, depth + 1));
  } else {
    const uint64_t es = scalar_size(a.elem);
    if (a.count > c.remaining() / es)
      c.error("array of ", a.count, " ", value_type_name(a.elem), " elements needs ", a.count, " x ", es,
              " bytes, only ", c.remaining(), " left");
    a.data = c.take(a.count * es, "array data");
    if (a.elem == ValueType::BOOL)
      for (uint64_t i = 0; i < a.count; ++i)
        if (a.data[i] > 1) c.error("bool array element ", i, " is ", int(a.data[i]), ", neither 0 nor 1");
  }
  return a;
}

Value read_value(Cursor& c, ValueType t) {
  Value v;
  v.type = t;
  switch (t) {
    case ValueType::U8: v.v = uint64_t(c.read<uint8_t>("u8 value")); break;
    case ValueType::U16: v.v = uint64_t(c.read<uint16_t>("u16 value")); break;
    case ValueType::U32: v.v = uint64_t(c.read<uint32_t>("u32 value")); break;
    case ValueType::U64: v.v = c.read<uint64_t>("u64 value"); break;
    case ValueType::I8: v.v = int64_t(c.read<int8_t>("i8 value")); break;
    case ValueType::I16: v.v = int64_t(c.read<int16_t>("i16 value")); break;
    case ValueType::I32: v.v = int64_t(c.read<int32_t>("i32 value")); break;
    case ValueType::I64: v.v = c.read<int64_t>("i64 value"); break;
    case ValueType::F32: v.v = double(c.read<float>("f32 value")); break;
    case ValueType::F64: v.v = c.read<double>("f64 value"); break;
    case ValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) c.error("bool value ", int(b), " is neither 0 nor 1");
      v.v = b != 0;
      break;
    }
    case ValueType::STRING: v.v = c.read_string("string value"); break;
    case ValueType::ARRAY: v.v = read_array(c, 0); break;
  }
  return v;
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::U8: return "u8";
    case ValueType::I8: return "i8";
    case ValueType::U16: return "u16";
    case ValueType::I16: return "i16";
    case ValueType::U32: return "u32";
    case ValueType::I32: return "i32";
    case ValueType::F32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::U64: return "u64";
    case ValueType::I64: return "i64";
    case ValueType::F64: return "f64";
  }
  return "unknown";
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::string TensorInfo::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// ---------------------------------------------------------------------------------------------------------
// Opening

std::unique_ptr<File> File::open(const std::string& path) {
  std::unique_ptr<File> f(new File());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open model file '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'", path, "' is not a regular file");
  }
  f->size_ = uint64_t(st.st_size);
  if (f->size_ > 0) {
    void* m = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("cannot mmap '", path, "': ", std::strerror(err));
    }
    f->map_ = m;
    f->base_ = static_cast<const uint8_t*>(m);
  }
  ::close(fd);
  f->parse();
  return f;
}

std::unique_ptr<File> File::from_bytes(std::vector<uint8_t> bytes, const std::string& name) {
  std::unique_ptr<File> f(new File());
  f->path_ = name;
  f->owned_ = std::move(bytes);
  f->base_ = f->owned_.data();
  f->size_ = f->owned_.size();
  f->parse();
  return f;
}

File::~File() {
  if (map_) munmap(map_, size_);
}

void File::release(const uint8_t* p, size_t n) const {
  if (!map_) return;
  AMUSD_ASSERT(p >= base_ && p + n <= base_ + size_);
  const auto page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page, end = (uintptr_t(p) + n) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

// ---------------------------------------------------------------------------------------------------------
// Parsing

void File::parse() {
  Cursor c(path_, base_, size_);
  if (size_ < 4) c.error("not a GGUF file: only ", size_, " bytes");
  const uint32_t magic = c.read<uint32_t>("magic");
  if (magic == kMagicSwapped) c.error("big-endian GGUF files are not supported");
  if (magic != kMagic) {
    std::string m(reinterpret_cast<const char*>(base_), 4);
    for (char& ch : m)
      if (ch < 32 || ch > 126) ch = '?';
    c.error("not a GGUF file: magic is '", m, "', expected 'GGUF'");
  }
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) c.error("GGUF version 1 is not supported (only 2 and 3); re-convert the model");
  if (version_ != 2 && version_ != 3) c.error("unknown GGUF version ", version_, " (supported: 2, 3)");

  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.remaining() / 13) c.error("metadata count ", n_kv, " is impossible for the file size");
  if (n_tensors > c.remaining() / 32) c.error("tensor count ", n_tensors, " is impossible for the file size");

  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t start = c.pos();
    c.set_context(str_cat("metadata entry ", i));
    const std::string key(c.read_string("metadata key"));
    if (key.empty()) c.error("empty key");
    c.set_context(str_cat("key '", printable(key), "'"));
    const uint32_t t = c.read<uint32_t>("value type");
    if (!valid_value_type(t)) c.error("unknown value type ", t);
    Value v = read_value(c, ValueType(t));
    v.raw = {base_ + start, size_t(c.pos() - start)};
    if (kv_.count(key)) c.error("duplicate metadata key");
    key_order_.push_back(key);
    kv_.emplace(key, std::move(v));
  }
  c.set_context("");

  if (const Value* a = find("general.alignment")) {
    // The GGUF specification requires a multiple of 8: tensor data must be aligned for its element type.
    if (a->type != ValueType::U32) c.error("key 'general.alignment': expected u32, found ", value_type_name(a->type));
    const uint64_t al = std::get<uint64_t>(a->v);
    if (al < 8 || (al & (al - 1)) != 0 || al > (1u << 20))
      c.error("key 'general.alignment': ", al, " is not a power of two between 8 and 2^20");
    alignment_ = uint32_t(al);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    c.set_context(str_cat("tensor info ", i));
    t.name = std::string(c.read_string("tensor name"));
    if (t.name.empty()) c.error("empty tensor name");
    c.set_context(str_cat("tensor '", printable(t.name), "'"));
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) c.error(n_dims, " dimensions, expected 1 to ", kMaxDims);
    int64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = c.read<uint64_t>("tensor dimension");
      if (ne == 0 || ne > (1ull << 40)) c.error("dimension ", d, " is ", ne, ", expected 1 to 2^40");
      if (uint64_t(n_el) > (uint64_t(1) << 50) / ne)
        c.error("element count overflows (dimension ", d, " = ", ne, ")");
      n_el *= int64_t(ne);
      t.ne.push_back(int64_t(ne));
    }
    const uint32_t type = c.read<uint32_t>("tensor type");
    const auto ti = dtype_info(type);
    if (!ti) c.error("unknown tensor type id ", type);
    t.type = ti->type;
    if (t.ne[0] % ti->block_size != 0)
      c.error("type ", ti->name, ": row length ", t.ne[0], " is not a multiple of the block size ", ti->block_size);
    t.nbytes = uint64_t(n_el / ti->block_size) * uint64_t(ti->block_bytes);
    t.offset = c.read<uint64_t>("tensor offset");
    if (t.offset % alignment_ != 0)
      c.error("data offset ", t.offset, " is not a multiple of the alignment ", alignment_);
    if (tensor_index_.count(t.name)) c.error("duplicate tensor name");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  c.set_context("");

  // Data section starts at the next multiple of the alignment.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (n_tensors > 0 && data_start > size_)
    c.error("truncated file: tensor data section would start at ", data_start, " beyond the end of the file");
  const uint64_t data_size = n_tensors > 0 ? size_ - data_start : 0;
  for (auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail(path_, ": tensor '", printable(t.name), "' (", dtype_name(t.type), " ", t.shape_str(), ", ", t.nbytes,
           " bytes at data offset ", t.offset, ") extends past the end of the file (data section holds ", data_size,
           " bytes)");
    t.data = base_ + data_start + t.offset;
  }
  // Overlapping tensors mean a corrupt table.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset)
      fail(path_, ": tensors '", printable(by_offset[i - 1]->name), "' and '", printable(by_offset[i]->name),
           "' overlap in the data section");
}

// ---------------------------------------------------------------------------------------------------------
// Metadata getters

const Value* File::find(std::string_view key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

namespace {

[[noreturn]] void wrong_type(const std::string& path, std::string_view key, std::string_view expected, ValueType found) {
  fail(path, ": key '", key, "': expected ", expected, ", found ", value_type_name(found));
}

}  // namespace

std::optional<int64_t> File::opt_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* u = std::get_if<uint64_t>(&v->v)) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max())) fail(path_, ": key '", key, "': value ", *u, " is too large");
    return int64_t(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v->v)) return *i;
  wrong_type(path_, key, "an integer", v->type);
}

std::optional<uint64_t> File::opt_uint(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* u = std::get_if<uint64_t>(&v->v)) return *u;
  if (auto* i = std::get_if<int64_t>(&v->v)) {
    if (*i < 0) fail(path_, ": key '", key, "': expected a non-negative integer, found ", *i);
    return uint64_t(*i);
  }
  wrong_type(path_, key, "an unsigned integer", v->type);
}

std::optional<double> File::opt_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* d = std::get_if<double>(&v->v)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v->v)) return double(*u);
  if (auto* i = std::get_if<int64_t>(&v->v)) return double(*i);
  wrong_type(path_, key, "a number", v->type);
}

std::optional<bool> File::opt_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* b = std::get_if<bool>(&v->v)) return *b;
  wrong_type(path_, key, "a bool", v->type);
}

std::optional<std::string_view> File::opt_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* s = std::get_if<std::string_view>(&v->v)) return *s;
  wrong_type(path_, key, "a string", v->type);
}

const Array* File::opt_array(std::string_view key, ValueType elem) const {
  const Value* v = find(key);
  if (!v) return nullptr;
  auto* a = std::get_if<Array>(&v->v);
  if (!a) wrong_type(path_, key, str_cat("an array of ", value_type_name(elem)), v->type);
  const bool int_ok = elem == ValueType::I32 && scalar_size(a->elem) > 0 && a->elem != ValueType::F32 &&
                      a->elem != ValueType::F64 && a->elem != ValueType::BOOL;
  const bool float_ok = elem == ValueType::F32 && (a->elem == ValueType::F64);
  if (a->elem != elem && !int_ok && !float_ok)
    fail(path_, ": key '", key, "': expected an array of ", value_type_name(elem), ", found an array of ",
         value_type_name(a->elem));
  return a;
}

namespace {
template <class T>
T required(const std::optional<T>& v, const std::string& path, std::string_view key) {
  if (!v) fail(path, ": required key '", key, "' is missing");
  return *v;
}
}  // namespace

uint64_t File::get_uint(std::string_view key) const { return required(opt_uint(key), path_, key); }
int64_t File::get_int(std::string_view key) const { return required(opt_int(key), path_, key); }
double File::get_float(std::string_view key) const { return required(opt_float(key), path_, key); }
bool File::get_bool(std::string_view key) const { return required(opt_bool(key), path_, key); }
std::string_view File::get_string(std::string_view key) const { return required(opt_string(key), path_, key); }

const Array& File::get_array(std::string_view key, ValueType elem) const {
  const Array* a = opt_array(key, elem);
  if (!a) fail(path_, ": required key '", key, "' is missing");
  return *a;
}

std::vector<float> File::to_f32(const Array& a) {
  std::vector<float> out(a.count);
  if (a.elem == ValueType::F32) {
    for (uint64_t i = 0; i < a.count; ++i) out[i] = load<float>(a.data + 4 * i);
  } else if (a.elem == ValueType::F64) {
    for (uint64_t i = 0; i < a.count; ++i) out[i] = float(load<double>(a.data + 8 * i));
  } else {
    fail("expected an array of floats, found an array of ", value_type_name(a.elem));
  }
  return out;
}

std::vector<int32_t> File::to_i32(const Array& a) {
  std::vector<int32_t> out(a.count);
  for (uint64_t i = 0; i < a.count; ++i) {
    int64_t v = 0;
    switch (a.elem) {
      case ValueType::U8: v = load<uint8_t>(a.data + i); break;
      case ValueType::I8: v = load<int8_t>(a.data + i); break;
      case ValueType::U16: v = load<uint16_t>(a.data + 2 * i); break;
      case ValueType::I16: v = load<int16_t>(a.data + 2 * i); break;
      case ValueType::U32: v = load<uint32_t>(a.data + 4 * i); break;
      case ValueType::I32: v = load<int32_t>(a.data + 4 * i); break;
      case ValueType::U64: {
        const uint64_t u = load<uint64_t>(a.data + 8 * i);
        v = u > uint64_t(INT32_MAX) ? int64_t(INT64_MAX) : int64_t(u);
        break;
      }
      case ValueType::I64: v = load<int64_t>(a.data + 8 * i); break;
      default: fail("expected an array of integers, found an array of ", value_type_name(a.elem));
    }
    if (v < INT32_MIN || v > INT32_MAX) fail("array element ", i, " = ", v, " does not fit in 32 bits");
    out[i] = int32_t(v);
  }
  return out;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

// ---------------------------------------------------------------------------------------------------------
// Printing

namespace {

std::string quote(std::string_view s, size_t max_len = 120) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    const unsigned char ch = s[i];
    if (ch == '\n') out += "\\n";
    else if (ch == '"') out += "\\\"";
    else if (ch == '\\') out += "\\\\";
    else if (ch < 32) out += str_cat("\\x", "0123456789abcdef"[ch >> 4], "0123456789abcdef"[ch & 15]);
    else out += char(ch);
  }
  if (s.size() > max_len) out += str_cat("...\" (", s.size(), " bytes)");
  else out += "\"";
  return out;
}

std::string scalar_at(ValueType t, const uint8_t* p) {
  switch (t) {
    case ValueType::U8: return std::to_string(load<uint8_t>(p));
    case ValueType::I8: return std::to_string(load<int8_t>(p));
    case ValueType::U16: return std::to_string(load<uint16_t>(p));
    case ValueType::I16: return std::to_string(load<int16_t>(p));
    case ValueType::U32: return std::to_string(load<uint32_t>(p));
    case ValueType::I32: return std::to_string(load<int32_t>(p));
    case ValueType::U64: return std::to_string(load<uint64_t>(p));
    case ValueType::I64: return std::to_string(load<int64_t>(p));
    case ValueType::F32: return str_cat(load<float>(p));
    case ValueType::F64: return str_cat(load<double>(p));
    case ValueType::BOOL: return load<uint8_t>(p) ? "true" : "false";
    default: return "?";
  }
}

std::string array_to_string(const Array& a, size_t max_items) {
  std::string s = str_cat(value_type_name(a.elem), "[", a.count, "] [");
  const size_t n = std::min<uint64_t>(a.count, max_items);
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ", ";
    if (a.elem == ValueType::STRING) s += quote(a.strings[i], 40);
    else if (a.elem == ValueType::ARRAY) s += array_to_string(a.arrays[i], 2);
    else s += scalar_at(a.elem, a.data + i * scalar_size(a.elem));
  }
  if (a.count > n) s += ", ...";
  return s + "]";
}

}  // namespace

std::string File::value_to_string(const Value& v, size_t max_items) const {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) return quote(x);
        else if constexpr (std::is_same_v<T, Array>) return array_to_string(x, max_items);
        else if constexpr (std::is_same_v<T, bool>) return x ? "true" : "false";
        else return str_cat(x);
      },
      v.v);
}

}  // namespace amusd::gguf
