// Tensor element types. Values are the GGML type ids stored in GGUF files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace amusd {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // as GGUF tools print it: "f32", "q4_K", ...
  int64_t block_size;     // elements per block (1 for plain types)
  int64_t block_bytes;    // bytes per block
  bool quantized;
};

// Info for a known type id, or nullopt for an id amusd does not know (the caller names the tensor in its error).
std::optional<DTypeInfo> dtype_info(uint32_t id);

// Info for a type amusd knows (asserts it is known).
const DTypeInfo& info(DType t);

std::string_view dtype_name(DType t);

// Parses a type name ("q8_0", "Q4_K", "f16", ...); nullopt if unknown.
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of a row of n elements; requires n % block_size == 0.
int64_t row_bytes(DType t, int64_t n);

}  // namespace amusd
