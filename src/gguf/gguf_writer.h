// GGUF writer: builds a file from metadata and tensors. Used by `amusd synth` / `quantize` and by tests that need
// custom or corrupt files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf.h"

namespace amusd::gguf {

class Writer {
 public:
  explicit Writer(uint32_t version = 3, uint32_t alignment = kDefaultAlignment);

  // Metadata, in insertion order. Setting a key twice throws.
  void set_u8(const std::string& key, uint8_t v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  // Copies an entry verbatim from another file (e.g. the tokenizer of an existing model).
  void copy_kv(const File& from, const std::string& key);
  bool has_key(const std::string& key) const;

  // Tensors: ne[0] is the row length. `data` must hold exactly the tensor's bytes for its type and shape.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> ne, std::vector<uint8_t> data);
  // Large tensors: `fill` writes the tensor's nbytes into dst when the file is written.
  void add_tensor(const std::string& name, DType type, std::vector<int64_t> ne,
                  std::function<void(uint8_t* dst, uint64_t nbytes)> fill);

  // The whole file as bytes.
  std::vector<uint8_t> to_bytes() const;
  // Writes the file (throws Error on I/O failure).
  void write(const std::string& path) const;

  // For building corrupt files: override the version or alignment written in the header/metadata.
  uint32_t version() const { return version_; }

 private:
  struct Tensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    uint64_t offset;
    std::vector<uint8_t> data;
    std::function<void(uint8_t*, uint64_t)> fill;
  };
  void begin_kv(const std::string& key, ValueType t);
  std::vector<uint8_t> header() const;
  void add(Tensor t);

  uint32_t version_;
  uint32_t alignment_;
  uint64_t n_kv_ = 0;
  std::vector<std::string> keys_;
  std::vector<uint8_t> kv_bytes_;
  std::vector<Tensor> tensors_;
  uint64_t data_size_ = 0;
};

}  // namespace amusd::gguf
