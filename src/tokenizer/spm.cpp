// SentencePiece tokenizer (tokenizer.ggml.model = "llama"), as the reference engine implements it: spaces become
// U+2581 "▁", a "▁" is prepended to the text (add_space_prefix), then the adjacent pair of symbols whose
// concatenation is the vocabulary token with the highest score is merged, repeatedly (ties: leftmost first).
// Characters that end up in no token are written as byte tokens <0xHH> (byte fallback).
#include <algorithm>
#include <array>
#include <queue>

#include "core/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace amusd::tok::detail {

namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// The reference engine's SPM defaults (llama-vocab.cpp): <unk> = 0, <s> = 1, </s> = 2, add BOS, no EOS.
constexpr VocabDefaults kSpmDefaults = {1, 2, 0, true, false};

// Calls f(begin, len) for each character of s: one UTF-8 sequence, or one byte where s is not valid UTF-8. (The
// reference engine splits by the lead byte alone, so a broken sequence can swallow the first bytes of the next
// character; for valid UTF-8 both agree.)
template <class F>
void for_each_char(std::string_view s, F&& f) {
  for (size_t pos = 0; pos < s.size();) {
    const size_t len = uint8_t(s[pos]) < 0x80 ? 1 : unicode::decode(s, pos).len;
    f(pos, len);
    pos += len;
  }
}

class SpmTokenizer final : public VocabTokenizer {
 public:
  SpmTokenizer(Vocab vocab, bool add_space_prefix, const std::array<Token, 256>& byte_tokens)
      : VocabTokenizer(std::move(vocab), add_space_prefix),
        add_space_prefix_(add_space_prefix),
        byte_tokens_(byte_tokens) {
    set_token_bytes([](std::string_view piece) { return unescape_spaces(piece); });
    index_inner_pairs();
  }

  std::string_view model_name() const override { return "llama"; }

 protected:
  void encode_text(std::string_view text, bool at_start, std::vector<Token>& out) const override;

 private:
  struct Symbol {
    uint32_t begin, len;  // bytes of the escaped text; len == 0 once merged into the symbol on its left
    int32_t prev, next;   // neighbours in the linked list of live symbols, -1 at the ends of a chunk
  };
  struct Bigram {
    float score;    // score of the token the two symbols would form
    int32_t left;   // index of the left symbol
    uint32_t len;   // bytes of both symbols when queued (stale entries are skipped)
  };
  struct Lower {  // priority: higher score first, then leftmost
    bool operator()(const Bigram& a, const Bigram& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };
  using Queue = std::priority_queue<Bigram, std::vector<Bigram>, Lower>;

  static std::string unescape_spaces(std::string_view piece) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
      if (piece.substr(i, kSpaceSymbol.size()) == kSpaceSymbol) {
        out += ' ';
        i += kSpaceSymbol.size();
      } else {
        out += piece[i++];
      }
    }
    return out;
  }

  // Records every pair of adjacent bytes inside a piece. Where the last byte of a character and the first byte of
  // the next form no such pair, no token can span the two: merges never cross that point, so the text is cut into
  // chunks there that are merged separately (same result, but the priority queues stay small).
  void index_inner_pairs() {
    inner_pairs_.assign(1 << 16, false);
    for (const std::string& piece : vocab_.pieces)
      for (size_t i = 1; i < piece.size(); ++i) inner_pairs_[byte_pair(piece[i - 1], piece[i])] = true;
  }
  static size_t byte_pair(char a, char b) { return size_t(uint8_t(a)) << 8 | uint8_t(b); }

  std::vector<Symbol> split_chunks(const std::string& s) const;
  void merge_chunk(const std::string& s, std::vector<Symbol>& sym, int32_t head, Queue& queue) const;
  void emit_chunk(const std::string& s, const std::vector<Symbol>& sym, int32_t head, std::vector<Token>& out) const;

  bool add_space_prefix_;
  std::array<Token, 256> byte_tokens_;  // byte-fallback token of each byte
  std::vector<bool> inner_pairs_;       // [65536] byte_pair(a, b) for adjacent bytes a, b inside some piece
};

// One symbol per character, linked into chunks: prev/next are -1 where no token can span two neighbours.
// One symbol per character, linked into chunks: prev/next are -1 where no token can span two neighbours.
std::vector<SpmTokenizer::Symbol> SpmTokenizer::split_chunks(const std::string& s) const {
  std::vector<Symbol> sym;
  sym.reserve(s.size());
  for_each_char(s, [&](size_t begin, size_t len) {
    const auto i = int32_t(sym.size());
    const bool joined = i > 0 && inner_pairs_[byte_pair(s[begin - 1], s[begin])];
    sym.push_back({uint32_t(begin), uint32_t(len), joined ? i - 1 : -1, -1});
    if (joined) sym[size_t(i - 1)].next = i;
  });
  return sym;
}

// The reference engine's SPM loop over one chunk (head: its first symbol).
void SpmTokenizer::merge_chunk(const std::string& s, std::vector<Symbol>& sym, int32_t head, Queue& queue) const {
  const auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const uint32_t len = sym[size_t(l)].len + sym[size_t(r)].len;
    const Token id = vocab_.find(std::string_view(s).substr(sym[size_t(l)].begin, len));
    if (id != kNoToken) queue.push({vocab_.scores[size_t(id)], l, len});
  };
  for (int32_t i = head; sym[size_t(i)].next >= 0; i = sym[size_t(i)].next) try_add(i, sym[size_t(i)].next);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& left = sym[size_t(b.left)];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = sym[size_t(left.next)];
    if (right.len == 0 || left.len + right.len != b.len) continue;  // one of them changed since queued
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) sym[size_t(right.next)].prev = b.left;
    try_add(left.prev, b.left);
    try_add(b.left, left.next);
  }
}

void SpmTokenizer::emit_chunk(const std::string& s, const std::vector<Symbol>& sym, int32_t head,
                              std::vector<Token>& out) const {
  for (int32_t i = head; i != -1; i = sym[size_t(i)].next) {
    const std::string_view piece = std::string_view(s).substr(sym[size_t(i)].begin, sym[size_t(i)].len);
    const Token id = vocab_.find(piece);
    if (id != kNoToken) {
      out.push_back(id);
      continue;
    }
    for (char c : piece) out.push_back(byte_tokens_[uint8_t(c)]);  // only unmerged characters get here
  }
}

void SpmTokenizer::encode_text(std::string_view text, bool at_start, std::vector<Token>& out) const {
  // Escape: the prefix space (the reference engine adds it to the first text fragment and to every fragment that
  // follows a special token) and every space become "▁".
  std::string s;
  s.reserve(text.size() + 3);
  if (add_space_prefix_ && at_start) s += kSpaceSymbol;
  for (char c : text) {
    if (c == ' ') s += kSpaceSymbol;
    else s += c;
  }
  std::vector<Symbol> sym = split_chunks(s);
  Queue queue;
  for (int32_t head = 0; head < int32_t(sym.size()); ++head) {
    if (sym[size_t(head)].prev >= 0) continue;  // not the first symbol of a chunk
    merge_chunk(s, sym, head, queue);
    emit_chunk(s, sym, head, out);
  }
}

// The byte-fallback token of every byte: <0xHH>, else the one-byte piece, else the unknown token.
std::array<Token, 256> byte_tokens(const Vocab& v) {
  std::array<Token, 256> tokens{};
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    Token id = v.find(std::string_view(name, 6));
    const char byte = char(b);
    if (id == kNoToken) id = v.find(std::string_view(&byte, 1));
    if (id == kNoToken) id = v.unk;
    AMUSD_CHECK(id != kNoToken, v.file, ": key '", kKeyTokens, "' has no byte token '", std::string_view(name, 6),
                "' and there is no unknown token; a SentencePiece vocabulary needs them for byte fallback");
    tokens[size_t(b)] = id;
  }
  return tokens;
}

void check_byte_pieces(const Vocab& v) {
  for (Token id = 0; id < v.size(); ++id)
    AMUSD_CHECK(v.attrs[size_t(id)] != TokenAttr::Byte || parse_byte_piece(v.pieces[size_t(id)]) >= 0, v.file,
                ": token ", id, " '", v.pieces[size_t(id)], "' has type BYTE in '", kKeyTokenType,
                "' but is not written <0xHH>");
}

}  // namespace

std::unique_ptr<Tokenizer> make_spm_tokenizer(const gguf::File& file) {
  Vocab vocab = load_vocab(file, kSpmDefaults);
  check_byte_pieces(vocab);
  const std::array<Token, 256> bytes = byte_tokens(vocab);
  // The reference engine reads tokenizer.ggml.add_space_prefix and defaults to true for SentencePiece.
  const bool add_space_prefix = file.opt_bool(kKeyAddSpacePrefix).value_or(true);
  return std::make_unique<SpmTokenizer>(std::move(vocab), add_space_prefix, bytes);
}

}  // namespace amusd::tok::detail
