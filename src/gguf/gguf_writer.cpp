#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace amusd::gguf {

namespace {

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

Writer::Writer(uint32_t version, uint32_t alignment) : version_(version), alignment_(alignment) {
  AMUSD_CHECK(alignment >= 8 && (alignment & (alignment - 1)) == 0, "GGUF alignment must be a power of two >= 8");
  if (alignment != kDefaultAlignment) set_u32("general.alignment", alignment);
}

bool Writer::has_key(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

void Writer::begin_kv(const std::string& key, ValueType t) {
  AMUSD_CHECK(!has_key(key), "GGUF writer: key '", key, "' set twice");
  keys_.push_back(key);
  ++n_kv_;
  put_string(kv_bytes_, key);
  put<uint32_t>(kv_bytes_, uint32_t(t));
}

void Writer::set_u8(const std::string& key, uint8_t v) { begin_kv(key, ValueType::U8); put(kv_bytes_, v); }
void Writer::set_u32(const std::string& key, uint32_t v) { begin_kv(key, ValueType::U32); put(kv_bytes_, v); }
void Writer::set_i32(const std::string& key, int32_t v) { begin_kv(key, ValueType::I32); put(kv_bytes_, v); }
void Writer::set_u64(const std::string& key, uint64_t v) { begin_kv(key, ValueType::U64); put(kv_bytes_, v); }
void Writer::set_f32(const std::string& key, float v) { begin_kv(key, ValueType::F32); put(kv_bytes_, v); }
void Writer::set_bool(const std::string& key, bool v) { begin_kv(key, ValueType::BOOL); put<uint8_t>(kv_bytes_, v); }
void Writer::set_string(const std::string& key, const std::string& v) {
  begin_kv(key, ValueType::STRING);
  put_string(kv_bytes_, v);
}

void Writer::set_strings(const std::string& key, const std::vector<std::string>& v) {
  begin_kv(key, ValueType::ARRAY);
  put<uint32_t>(kv_bytes_, uint32_t(ValueType::STRING));
  put<uint64_t>(kv_bytes_, v.size());
  for (const auto& s : v) put_string(kv_bytes_, s);
}

void Writer::set_f32s(const std::string& key, const std::vector<float>& v) {
  begin_kv(key, ValueType::ARRAY);
  put<uint32_t>(kv_bytes_, uint32_t(ValueType::F32));
  put<uint64_t>(kv_bytes_, v.size());
  for (float x : v) put(kv_bytes_, x);
}

void Writer::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  begin_kv(key, ValueType::ARRAY);
  put<uint32_t>(kv_bytes_, uint32_t(ValueType::I32));
  put<uint64_t>(kv_bytes_, v.size());
  for (int32_t x : v) put(kv_bytes_, x);
}

void Writer::copy_kv(const File& from, const std::string& key) {
  const Value* v = from.find(key);
  AMUSD_CHECK(v, from.path(), ": key '", key, "' to copy is missing");
  AMUSD_CHECK(!has_key(key), "GGUF writer: key '", key, "' set twice");
  keys_.push_back(key);
  ++n_kv_;
  kv_bytes_.insert(kv_bytes_.end(), v->raw.begin(), v->raw.end());
}

void Writer::add(Tensor t) {
  AMUSD_CHECK(!t.ne.empty() && t.ne.size() <= size_t(kMaxDims), "tensor '", t.name, "': 1 to 4 dimensions");
  for (const auto& o : tensors_) AMUSD_CHECK(o.name != t.name, "GGUF writer: tensor '", t.name, "' added twice");
  const auto& ti = info(t.type);
  AMUSD_CHECK(t.ne[0] % ti.block_size == 0, "tensor '", t.name, "': row length ", t.ne[0],
              " is not a multiple of the block size of ", ti.name);
  int64_t n = 1;
  for (int64_t d : t.ne) n *= d;
  t.nbytes = uint64_t(n / ti.block_size * ti.block_bytes);
  t.offset = align_up(data_size_, alignment_);
  data_size_ = t.offset + t.nbytes;
  tensors_.push_back(std::move(t));
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, std::vector<uint8_t> data) {
  Tensor t{name, type, std::move(ne), 0, 0, std::move(data), nullptr};
  const size_t given = t.data.size();
  add(std::move(t));
  AMUSD_CHECK(given == tensors_.back().nbytes, "tensor '", name, "': ", given, " bytes given, ",
              tensors_.back().nbytes, " expected");
}

void Writer::add_tensor(const std::string& name, DType type, std::vector<int64_t> ne,
                        std::function<void(uint8_t*, uint64_t)> fill) {
  add(Tensor{name, type, std::move(ne), 0, 0, {}, std::move(fill)});
}

std::vector<uint8_t> Writer::header() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747);
  put<uint32_t>(out, version_);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, n_kv_);
  out.insert(out.end(), kv_bytes_.begin(), kv_bytes_.end());
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, uint32_t(t.type));
    put<uint64_t>(out, t.offset);
  }
  out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> out = header();
  const size_t data_start = out.size();
  out.resize(data_start + data_size_, 0);
  for (const auto& t : tensors_) {
    uint8_t* dst = out.data() + data_start + t.offset;
    if (t.fill) t.fill(dst, t.nbytes);
    else std::memcpy(dst, t.data.data(), t.nbytes);
  }
  return out;
}

void Writer::write(const std::string& path) const {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  AMUSD_CHECK(f, "cannot create '", path, "': ", std::strerror(errno));
  auto write_all = [&](const uint8_t* p, size_t n) {
    AMUSD_CHECK(std::fwrite(p, 1, n, f.get()) == n, "cannot write '", path, "': ", std::strerror(errno));
  };
  const std::vector<uint8_t> h = header();
  write_all(h.data(), h.size());
  uint64_t pos = 0;
  std::vector<uint8_t> buf;
  const std::vector<uint8_t> zeros(alignment_, 0);
  for (const auto& t : tensors_) {
    write_all(zeros.data(), t.offset - pos);
    if (t.fill) {
      buf.assign(t.nbytes, 0);
      t.fill(buf.data(), t.nbytes);
      write_all(buf.data(), buf.size());
    } else {
      write_all(t.data.data(), t.nbytes);
    }
    pos = t.offset + t.nbytes;
  }
  AMUSD_CHECK(std::fflush(f.get()) == 0, "cannot write '", path, "': ", std::strerror(errno));
}

}  // namespace amusd::gguf
