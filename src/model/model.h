// A loaded model: hyperparameters, weights (views into the memory-mapped GGUF) and tokenizer. Immutable after
// load, so any number of sequences (Contexts) on any devices can share it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "tokenizer/tokenizer.h"

namespace amusd::model {

// A weight matrix: n_out rows of n_in elements, row r at data + r * row_bytes (GGUF shape [n_in, n_out]); or, when
// panels is set, the same bytes in the 16-row panel form of kernels/panels.h (Q8_0, Q4_0, Q4_K, Q6_K; rows are then
// only addressable in whole panels: data + r * row_bytes for r % 16 == 0).
struct Weight {
  std::string name;
  DType type = DType::F32;
  int64_t n_in = 0;
  int64_t n_out = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  bool panels = false;
};

struct LoadOptions {
  // Unless set, Q8_0, Q4_0, Q4_K and Q6_K matrices are repacked into 16-row panels where the CPU and OS allow AMX
  // (kernels::amx_usable()): batched verification and prefill then cost little more than one decoding step. Either way
  // every batch size gives the same bits; the two layouts differ from each other by float rounding only (Q4_K / Q6_K
  // panels give the scalar reference kernel's bits). The repacked copy replaces the mapped weights in memory.
  bool keep_row_major = false;
};

struct Layer {
  std::vector<float> attn_norm;       // [n_embd]
  Weight wq, wk, wv, wo;              // [n_embd -> q_dim], [n_embd -> kv_dim] x2, [q_dim -> n_embd]
  std::vector<float> bq, bk, bv;      // [q_dim], [kv_dim], [kv_dim]; empty without biases
  std::vector<float> ffn_norm;        // [n_embd]
  Weight w_gate, w_up, w_down;        // [n_embd -> n_ff] x2, [n_ff -> n_embd]

  // The layer's weight matrices.
  std::array<const Weight*, 7> matrices() const { return {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down}; }
  std::array<Weight*, 7> matrices() { return {&wq, &wk, &wv, &wo, &w_gate, &w_up, &w_down}; }
};

class Model {
 public:
  // Loads and validates a GGUF model: architecture, hyperparameters, every tensor's shape and type, tokenizer.
  // Throws Error naming the file, the tensor or key, and what was expected vs found.
  static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& options = {});

  const HParams& hparams() const { return hp_; }
  const tok::Tokenizer& tokenizer() const { return *tokenizer_; }
  const gguf::File& file() const { return *file_; }
  const std::string& path() const { return file_->path(); }

  const Weight& tok_embd() const { return tok_embd_; }       // [n_embd -> n_vocab] used as a lookup table
  const Weight& output() const { return output_; }           // [n_embd -> n_vocab]; the embedding when tied
  bool tied_output() const { return tied_output_; }
  const std::vector<float>& output_norm() const { return output_norm_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const std::vector<float>& rope_freq_factors() const { return rope_freqs_; }  // [n_rot/2] or empty

  // Parameters and bytes of all tensors, and the bytes of weights read to decode one token.
  uint64_t n_params() const;
  uint64_t weight_bytes() const;
  uint64_t bytes_per_token() const;

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  HParams hp_;
  Weight tok_embd_, output_;
  bool tied_output_ = false;
  std::vector<float> output_norm_;
  std::vector<float> rope_freqs_;
  std::vector<Layer> layers_;
  std::vector<std::vector<uint8_t>> packed_;  // panel copies of repacked weights (see LoadOptions)

  void repack_for_amx();
};

}  // namespace amusd::model
