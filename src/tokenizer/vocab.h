// Internal: the part of a tokenizer that does not depend on the model kind: the vocabulary read from
// tokenizer.ggml.*, special-token matching in text, decoding. spm.cpp and bpe.cpp derive from VocabTokenizer.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/hash_tables.h"
#include "tokenizer/tokenizer.h"

namespace amusd::tok::detail {

// ---- GGUF keys (one place for the names) ----
inline constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
inline constexpr std::string_view kKeyPre = "tokenizer.ggml.pre";
inline constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
inline constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
inline constexpr std::string_view kKeyTokenType = "tokenizer.ggml.token_type";
inline constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";
inline constexpr std::string_view kKeyBos = "tokenizer.ggml.bos_token_id";
inline constexpr std::string_view kKeyEos = "tokenizer.ggml.eos_token_id";
inline constexpr std::string_view kKeyEot = "tokenizer.ggml.eot_token_id";
inline constexpr std::string_view kKeyEom = "tokenizer.ggml.eom_token_id";
inline constexpr std::string_view kKeyUnk = "tokenizer.ggml.unknown_token_id";
inline constexpr std::string_view kKeyAddBos = "tokenizer.ggml.add_bos_token";
inline constexpr std::string_view kKeyAddEos = "tokenizer.ggml.add_eos_token";
inline constexpr std::string_view kKeyAddSpacePrefix = "tokenizer.ggml.add_space_prefix";

// A piece of the input text: a special token written in it, or a run of plain text.
struct Fragment {
  Token token = kNoToken;     // the special token, or kNoToken for plain text
  size_t begin = 0, end = 0;  // plain text: bytes [begin, end) of the input
};

// Finds special tokens written literally in a text, as the reference engine does: the longest tokens first over the
// whole text, then shorter ones in what is left, each leftmost-first without overlaps.
class SpecialMatcher {
 public:
  void add(Token id, std::string_view text);  // text must outlive the matcher and be non-empty
  // Splits text into fragments (none for an empty text).
  std::vector<Fragment> partition(std::string_view text) const;

 private:
  struct Group {  // all special tokens of one length
    size_t length = 0;
    std::unordered_map<std::string_view, Token> tokens;
    std::array<bool, 256> first_byte{};  // quick filter: some token starts with this byte
  };
  std::vector<Group> groups_;               // by decreasing length
  std::array<bool, 256> any_first_byte_{};  // some token of some group starts with this byte
};

// What both tokenizer kinds read from the GGUF.
struct Vocab {
  std::string file;                                  // the GGUF path, for error messages
  std::vector<std::string> pieces;                   // [n_vocab] tokenizer.ggml.tokens
  std::vector<float> scores;                         // [n_vocab] tokenizer.ggml.scores (0 when absent)
  std::vector<TokenAttr> attrs;                      // [n_vocab] from tokenizer.ggml.token_type (Normal if absent)
  StringIndex ids;                                   // piece -> id; points into `pieces`
  Token bos = kNoToken, eos = kNoToken, unk = kNoToken;
  bool add_bos = false, add_eos = false;
  std::vector<bool> eog;                             // [n_vocab] end-of-generation tokens
  SpecialMatcher user_defined;                       // user-defined tokens (always matched in text)
  SpecialMatcher all_special;                        // control, user-defined and unknown tokens

  Vocab() = default;
  Vocab(Vocab&&) = default;  // moving keeps the strings in place, so `ids` stays valid; copying would not
  Vocab(const Vocab&) = delete;

  int32_t size() const { return int32_t(pieces.size()); }
  Token find(std::string_view piece) const { return ids.find(piece); }  // kNoToken (-1) if absent
};

// The reference engine's defaults for one model kind, used when the GGUF does not say.
struct VocabDefaults {
  Token bos = kNoToken, eos = kNoToken, unk = kNoToken;  // ignored when not a valid id of the vocabulary
  bool add_bos = false, add_eos = false;
};

// Reads and checks the vocabulary; throws Error naming the file and the key on bad data.
Vocab load_vocab(const gguf::File& file, const VocabDefaults& defaults);

// Tokenizer operations shared by the model kinds. A subclass provides encode_text() and, in its constructor,
// the byte decoding of its normal tokens (set_token_bytes()).
class VocabTokenizer : public Tokenizer {
 public:
  std::vector<Token> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string token_to_bytes(Token id, bool render_special) const override;
  std::string decode(std::span<const Token> ids, bool render_special) const override;

  int32_t n_vocab() const override { return vocab_.size(); }
  const std::string& piece(Token id) const override { return vocab_.pieces[check_id(id)]; }
  TokenAttr attr(Token id) const override { return vocab_.attrs[check_id(id)]; }
  Token find_piece(std::string_view piece) const override { return vocab_.find(piece); }
  Token bos() const override { return vocab_.bos; }
  Token eos() const override { return vocab_.eos; }
  bool add_bos() const override { return vocab_.add_bos; }
  bool add_eos() const override { return vocab_.add_eos; }
  bool is_eog(Token id) const override { return id >= 0 && id < vocab_.size() && vocab_.eog[size_t(id)]; }

 protected:
  // strip_leading_space: decode() removes one leading space from the first piece (SentencePiece's added prefix).
  VocabTokenizer(Vocab vocab, bool strip_leading_space);

  // Appends the tokens of one run of plain text. at_start: the run begins the text or follows a special token.
  virtual void encode_text(std::string_view text, bool at_start, std::vector<Token>& out) const = 0;

  // Precomputes what every token decodes to: `normal` gives the bytes of a Normal token's piece; Byte tokens
  // written <0xHH> give that byte (others are treated as normal); control, unknown and user-defined tokens give
  // their piece as is; unused and undefined tokens give nothing.
  void set_token_bytes(const std::function<std::string(std::string_view piece)>& normal);

  size_t check_id(Token id) const;  // throws Error unless 0 <= id < n_vocab

  Vocab vocab_;

 private:
  bool strip_leading_space_;
  std::string bytes_;                  // decoded bytes of all tokens, concatenated
  std::vector<uint32_t> bytes_offset_; // [n_vocab + 1] token i decodes to bytes_[offset[i], offset[i + 1])
};

// "<0xHH>" -> HH, or -1.
int parse_byte_piece(std::string_view piece);

// The model kinds (spm.cpp, bpe.cpp).
std::unique_ptr<Tokenizer> make_spm_tokenizer(const gguf::File& file);
std::unique_ptr<Tokenizer> make_bpe_tokenizer(const gguf::File& file);

}  // namespace amusd::tok::detail
