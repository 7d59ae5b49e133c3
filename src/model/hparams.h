// Hyperparameters of a decoder-only transformer, read from GGUF metadata ("<arch>.*" keys).
#pragma once

#include <cstdint>
#include <string>

namespace amusd::gguf { class File; }

namespace amusd::model {

// How RoPE pairs the dimensions of a head: Normal rotates (x[2i], x[2i+1]) (llama GGUFs, whose converter permutes
// Q/K for it); NeoX rotates (x[i], x[i + n_rot/2]) (qwen2).
enum class RopeStyle { Normal, NeoX };

struct ArchSpec;

struct HParams {
  std::string arch;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;   // context length the model was trained with
  int64_t n_embd = 0;        // model width
  int64_t n_layer = 0;
  int64_t n_ff = 0;          // feed-forward hidden width
  int64_t n_head = 0;        // query heads
  int64_t n_head_kv = 0;     // key/value heads (GQA: n_head % n_head_kv == 0)
  int64_t head_dim = 0;      // per head
  int64_t n_rot = 0;         // dimensions of each head that RoPE rotates (<= head_dim, even)
  float rms_eps = 1e-5f;
  float rope_base = 10000.f;
  float rope_freq_scale = 1.f;  // positions are multiplied by this (linear RoPE scaling)
  RopeStyle rope_style = RopeStyle::Normal;
  bool qkv_bias = false;        // q/k/v projections carry biases

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
  int64_t gqa_ratio() const { return n_head / n_head_kv; }
};

// Reads and validates the hyperparameters for `spec`'s architecture. n_vocab comes from the caller (the token
// embedding / vocabulary). Throws Error naming the file and key.
HParams load_hparams(const gguf::File& file, const ArchSpec& spec, int64_t n_vocab);

}  // namespace amusd::model
