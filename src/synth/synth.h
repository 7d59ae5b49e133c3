// Deterministic synthetic models: random weights of any shape, written as GGUF with a tokenizer copied from an
// existing file. Used by tests (e.g. a draft that never agrees with its target) and by `amusd synth`.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace amusd::synth {

struct Spec {
  std::string arch = "llama";      // llama or qwen2
  std::string name = "synthetic";
  int64_t n_embd = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t n_ff = 128;
  int64_t n_ctx = 2048;
  float rope_base = 10000.f;
  float rms_eps = 1e-5f;
  bool tied_output = false;        // no output.weight: the embedding is reused
  DType type = DType::F32;         // matrices: F32, F16 or BF16 (quantize afterwards for other types)
  uint64_t seed = 1;
  float weight_std = 0.02f;        // matrices ~ N(0, weight_std)
  float embd_std = 0.12f;          // token embedding ~ N(0, embd_std)
  std::string tokenizer_from;      // GGUF whose tokenizer.* metadata is copied (required)
};

// Writes the model; throws Error on a bad spec or I/O failure.
void write_model(const Spec& spec, const std::string& path);

}  // namespace amusd::synth
