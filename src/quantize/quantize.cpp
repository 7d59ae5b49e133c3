#include "quantize/quantize.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "kernels/kernels.h"

namespace amusd::quantize {

bool can_write(DType t) {
  const kernels::TypeKernels* k = kernels::find_reference_kernels(t);
  return k && k->from_float && k->vec_dot;
}

namespace {

// The llama.cpp file-type ids (general.file_type) for the plain types, so other tools recognise the file.
int file_type_of(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 11;
    case DType::Q4_K: return 14;
    case DType::Q5_K: return 16;
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: return -1;
  }
}

// Converts rows [r0, r1) of tensor `t` to `type` (src: its bytes, dst: the output rows).
void convert_rows(const gguf::TensorInfo& t, DType type, int64_t r0, int64_t r1, uint8_t* dst) {
  const int64_t n = t.ne[0];
  const auto& from = *kernels::find_reference_kernels(t.type);
  const auto& to = *kernels::find_reference_kernels(type);
  const size_t in_rb = size_t(row_bytes(t.type, n)), out_rb = size_t(row_bytes(type, n));
  std::vector<float> row(n);
  for (int64_t r = r0; r < r1; ++r) {
    from.to_float(t.data + r * in_rb, row.data(), n);
    to.from_float(row.data(), dst + r * out_rb, n);
  }
}

}  // namespace

Summary quantize_file(const std::string& in, const std::string& out, DType type, int n_threads) {
  AMUSD_CHECK(can_write(type), "cannot quantize to ", dtype_name(type), " (supported: f32, f16, bf16, q8_0, q4_0, ",
              "q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K)");
  AMUSD_CHECK(in != out, "quantize: input and output are the same file");
  auto f = gguf::File::open(in);
  gguf::Writer w(3, f->alignment() < 8 ? gguf::kDefaultAlignment : f->alignment());
  for (const auto& key : f->keys()) {
    if (key == "general.alignment" || key == "general.file_type" || key == "general.quantization_version") continue;
    w.copy_kv(*f, key);
  }
  if (file_type_of(type) >= 0) w.set_u32("general.file_type", uint32_t(file_type_of(type)));
  if (info(type).quantized) w.set_u32("general.quantization_version", 2);

  Summary sum;
  n_threads = std::max(1, n_threads);
  for (const auto& t : f->tensors()) {
    sum.bytes_in += t.nbytes;
    const kernels::TypeKernels* from = kernels::find_reference_kernels(t.type);
    const bool is_matrix = t.ne.size() == 2 && t.name.size() > 7 && t.name.ends_with(".weight");
    if (!is_matrix || t.type == type) {
      w.add_tensor(t.name, t.type, t.ne, std::vector<uint8_t>(t.data, t.data + t.nbytes));
      sum.bytes_out += t.nbytes;
      ++sum.n_copied;
      continue;
    }
    AMUSD_CHECK(from && from->to_float, in, ": tensor '", t.name, "' has type ", dtype_name(t.type),
                ", which amusd cannot dequantize");
    const DType target = t.ne[0] % info(type).block_size == 0 ? type : DType::F16;
    (target == type ? sum.n_converted : sum.n_fallback)++;
    const int64_t rows = t.rows();
    sum.bytes_out += uint64_t(row_bytes(target, t.ne[0]) * rows);
    const gguf::TensorInfo* src = &t;
    w.add_tensor(t.name, target, t.ne, [src, target, rows, n_threads](uint8_t* dst, uint64_t) {
      std::vector<std::thread> threads;
      for (int i = 0; i < n_threads; ++i)
        threads.emplace_back(convert_rows, std::cref(*src), target, rows * i / n_threads, rows * (i + 1) / n_threads,
                             dst);
      for (auto& th : threads) th.join();
    });
  }
  w.write(out);
  return sum;
}

}  // namespace amusd::quantize
