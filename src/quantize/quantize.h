// Re-encodes a model's matrices in another type (amusd quantize). Metadata is copied; 1-D tensors (norms, biases)
// keep their type; a matrix whose rows the target type's blocks do not divide is stored as F16, as common tools do.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace amusd::quantize {

struct Summary {
  int n_converted = 0;     // matrices written in the requested type
  int n_fallback = 0;      // matrices stored as F16 because the block does not divide their rows
  int n_copied = 0;        // tensors copied unchanged
  uint64_t bytes_in = 0, bytes_out = 0;
};

// The types amusd can quantize to (those with a reference quantizer and a compute kernel).
bool can_write(DType t);

// Reads `in` (any type amusd can dequantize), writes `out`. Throws Error naming the file or tensor on failure.
Summary quantize_file(const std::string& in, const std::string& out, DType type, int n_threads = 1);

}  // namespace amusd::quantize
