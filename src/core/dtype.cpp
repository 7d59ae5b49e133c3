#include "core/dtype.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "core/error.h"

namespace amusd {

namespace {

constexpr std::array kTypes = {
    DTypeInfo{DType::F32, "f32", 1, 4, false},      DTypeInfo{DType::F16, "f16", 1, 2, false},
    DTypeInfo{DType::Q4_0, "q4_0", 32, 18, true},   DTypeInfo{DType::Q4_1, "q4_1", 32, 20, true},
    DTypeInfo{DType::Q5_0, "q5_0", 32, 22, true},   DTypeInfo{DType::Q5_1, "q5_1", 32, 24, true},
    DTypeInfo{DType::Q8_0, "q8_0", 32, 34, true},   DTypeInfo{DType::Q8_1, "q8_1", 32, 36, true},
    DTypeInfo{DType::Q2_K, "q2_K", 256, 84, true},  DTypeInfo{DType::Q3_K, "q3_K", 256, 110, true},
    DTypeInfo{DType::Q4_K, "q4_K", 256, 144, true}, DTypeInfo{DType::Q5_K, "q5_K", 256, 176, true},
    DTypeInfo{DType::Q6_K, "q6_K", 256, 210, true}, DTypeInfo{DType::Q8_K, "q8_K", 256, 292, true},
    DTypeInfo{DType::I8, "i8", 1, 1, false},        DTypeInfo{DType::I16, "i16", 1, 2, false},
    DTypeInfo{DType::I32, "i32", 1, 4, false},      DTypeInfo{DType::I64, "i64", 1, 8, false},
    DTypeInfo{DType::F64, "f64", 1, 8, false},      DTypeInfo{DType::BF16, "bf16", 1, 2, false},
};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
  for (const auto& t : kTypes)
    if (uint32_t(t.type) == id) return t;
  return std::nullopt;
}

const DTypeInfo& info(DType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  AMUSD_ASSERT(false && "unknown dtype");
  __builtin_unreachable();
}

std::string_view dtype_name(DType t) { return info(t).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& t : kTypes) {
    std::string n(t.name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
    if (n == lower) return t.type;
  }
  return std::nullopt;
}

int64_t row_bytes(DType t, int64_t n) {
  const auto& i = info(t);
  AMUSD_ASSERT(n % i.block_size == 0);
  return n / i.block_size * i.block_bytes;
}

}  // namespace amusd
