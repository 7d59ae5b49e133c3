// Deterministic synthetic models: random weights of any shape, written as GGUF with a tokenizer copied from an
// existing file. Every tensor draws from its own RNG stream (seeded by the seed and the tensor's name), so a draft
// built from a target's first layers holds bit-identical copies of those tensors.
//
// Agreement-controlled pairs: the target's layers from `draft_layers` on have their output projections
// (attn_output, ffn_down) multiplied by `late_scale`; the draft is the first `draft_layers` layers with the same
// embedding, final norm and head. The smaller late_scale, the less the late layers change the residual stream, and
// the more often the draft's greedy choice equals the target's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  DType type = DType::F32;         // matrices: any type amusd can write (f32, f16, bf16, q8_0, q4_0, q4_K, q6_K, ...)
  uint64_t seed = 1;
  float weight_std = 0.02f;        // matrices ~ N(0, weight_std)
  float embd_std = 0.12f;          // token embedding ~ N(0, embd_std)
  float late_scale = 1.f;          // multiplies attn_output / ffn_down of layers >= scale_from
  int64_t scale_from = 0;          // first layer whose output projections are scaled
  std::string tokenizer_from;      // GGUF whose tokenizer.* metadata is copied (required)
  int n_threads = 1;               // threads generating and quantizing tensors
};

// Named shapes: "tinyllama-1.1b", "llama-3.2-1b", "draft-68m", "draft-160m", "mini" (the shared mini-target shape).
// Throws Error for an unknown name (listing the known ones).
Spec preset(const std::string& name);
std::vector<std::string> preset_names();

// The draft matching an agreement-controlled target: its first `layers` layers, same embedding and head.
Spec draft_of(const Spec& target, int64_t layers);

// Parameters the spec describes (for reporting; n_vocab from the tokenizer file).
int64_t count_params(const Spec& spec, int64_t n_vocab);

// Writes the model; throws Error on a bad spec or I/O failure.
void write_model(const Spec& spec, const std::string& path);

}  // namespace amusd::synth
