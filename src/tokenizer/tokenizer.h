// Tokenizers built from a GGUF vocabulary: SentencePiece (`tokenizer.ggml.model` = "llama") and byte-level BPE
// ("gpt2", with the pre-tokenizer named by `tokenizer.ggml.pre`). One interface for both. They reproduce the
// reference engine (llama.cpp) token for token; implementation in spm.cpp, bpe.cpp, pretokenize.cpp, vocab.cpp.
// All const methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace amusd::tok {

using Token = int32_t;
constexpr Token kNoToken = -1;

// tokenizer.ggml.token_type values
enum class TokenAttr : int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

class Tokenizer {
 public:
  // Builds the tokenizer described by the GGUF metadata; throws Error naming the file and key on a bad or
  // unsupported vocabulary (e.g. an unknown `tokenizer.ggml.pre`).
  static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);
  virtual ~Tokenizer() = default;

  // Text -> ids. add_special: add BOS / EOS as the GGUF asks (tokenizer.ggml.add_bos_token / add_eos_token, with the
  // same defaults as the reference engine when absent: SentencePiece adds BOS, gpt2 adds nothing except with the
  // llama3-family pre-tokenizers). parse_special: recognise control (and unknown) tokens written literally in the
  // text (e.g. "<|im_start|>", longest first); when false they are tokenized as plain text. User-defined tokens are
  // recognised either way, as the reference engine and HF tokenizers do. Invalid UTF-8 is kept byte for byte (the
  // reference engine would encode U+FFFD instead). Bytes a BPE vocabulary has no symbol for are dropped, as there.
  virtual std::vector<Token> encode(std::string_view text, bool add_special, bool parse_special = false) const = 0;

  // The bytes one token stands for when decoding (byte tokens become their byte, "▁" becomes a space, byte-level
  // BPE symbols are mapped back to bytes, user-defined tokens give their text). Control and unknown tokens give ""
  // unless render_special; unused ones always "". Throws Error for an id outside [0, n_vocab).
  virtual std::string token_to_bytes(Token id, bool render_special = false) const = 0;

  // Ids -> text: concatenated token bytes; the leading space a SentencePiece vocabulary adds is removed from the
  // first piece that is output (so decode(encode(s)) == s, with or without BOS, except that SentencePiece cannot
  // tell a literal "▁" in s from an escaped space and gives " " for it); control tokens are skipped unless
  // render_special. To decode a continuation (tokens not at the start of a text) use token_to_bytes/StreamDecoder.
  // Throws Error for an id outside [0, n_vocab).
  virtual std::string decode(std::span<const Token> ids, bool render_special = false) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual const std::string& piece(Token id) const = 0;  // the vocabulary string, as stored; throws for a bad id
  // From tokenizer.ggml.token_type; the tokens recognised as end of generation by their text are Control.
  virtual TokenAttr attr(Token id) const = 0;
  virtual Token find_piece(std::string_view piece) const = 0;  // kNoToken if absent

  virtual Token bos() const = 0;  // kNoToken if the vocabulary has none
  virtual Token eos() const = 0;
  virtual bool add_bos() const = 0;
  virtual bool add_eos() const = 0;
  // End of generation: EOS, tokenizer.ggml.eot_token_id / eom_token_id, and the tokens the reference engine treats
  // as such by their text (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>, ...).
  // False for any id outside the vocabulary.
  virtual bool is_eog(Token id) const = 0;
  virtual std::string_view model_name() const = 0;  // "llama" (SentencePiece) or "gpt2" (BPE)
};

// Streams decoded text token by token without ever emitting a partial UTF-8 character: bytes of an incomplete
// character are held back until the rest arrives (or until flush()).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = false);
  // Feeds one generated token; returns the text that is now complete (possibly empty).
  std::string feed(Token id);
  // Returns whatever is held back (invalid or truncated UTF-8 is passed through as is).
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool render_special_;
  std::string pending_;
};

}  // namespace amusd::tok
