// Pre-tokenizers of byte-level BPE vocabularies: how text is split into words before BPE merges run inside each
// word, chosen by `tokenizer.ggml.pre`. They are the regex lists the reference engine (llama.cpp) uses per name.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace amusd::tok::detail {

class PreTokenizer {
 public:
  // The pre-tokenizer for a `tokenizer.ggml.pre` value (e.g. "gpt-2", "llama-bpe", "qwen2", "deepseek-coder");
  // nullopt if the name is unknown.
  static std::optional<PreTokenizer> find(std::string_view name);
  // Every name find() accepts, for error messages.
  static std::vector<std::string_view> known_names();

  // Splits text into words: byte ranges [begin, end) that cover the text exactly, in order. Each pattern splits the
  // pieces the previous patterns produced; matches and the text between them both become pieces.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& words) const;

  // A word that is itself a vocabulary token is emitted whole, without running the merges (llama3 family).
  bool ignore_merges() const { return ignore_merges_; }
  // The reference engine's default for tokenizer.ggml.add_bos_token with this pre-tokenizer.
  bool add_bos() const { return add_bos_; }

 private:
  std::vector<Regex> patterns_;
  bool ignore_merges_ = false;
  bool add_bos_ = false;
};

}  // namespace amusd::tok::detail
