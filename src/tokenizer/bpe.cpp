// Byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2"), as the reference engine implements it: the text is
// split into words by the pre-tokenizer named in tokenizer.ggml.pre, each byte of a word becomes its GPT-2 symbol,
// and inside each word the adjacent pair with the lowest merge rank (tokenizer.ggml.merges) is merged, repeatedly
// (ties: leftmost first).
//
// Merges work on symbol ids rather than strings: every string that can occur as a symbol (a byte's symbol, either
// side or the result of a merge rule) has an id, its token id when it is in the vocabulary and an id >= n_vocab
// otherwise, so a merge is one hash lookup of a pair of ids.
#include <algorithm>
#include <array>
#include <queue>

#include "core/error.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace amusd::tok::detail {

namespace {

// The reference engine makes BOS = EOS = 11 the defaults for "gpt2" vocabularies (a Falcon leftover that would turn
// an ordinary token like "," into EOS elsewhere); here absent ids mean "no such token". add_bos defaults to false
// except for the pre-tokenizers that say otherwise (llama3 family); add_eos to false.
constexpr VocabDefaults kBpeDefaults = {kNoToken, kNoToken, kNoToken, false, false};

struct MergeRule {
  int32_t rank;    // index in tokenizer.ggml.merges: lower merges first
  int32_t result;  // symbol id of the merged string
};

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

std::string byte_symbol(uint8_t b) {
  std::string s;
  unicode::append_utf8(s, unicode::byte_to_code_point(b));
  return s;
}

// GPT-2 symbols back to bytes; code points outside that alphabet are kept as UTF-8.
std::string symbols_to_bytes(std::string_view piece) {
  std::string out;
  for (size_t pos = 0; pos < piece.size();) {
    const unicode::Decoded d = unicode::decode(piece, pos);
    const int b = d.valid ? unicode::code_point_to_byte(d.cp) : -1;
    if (b >= 0) out += char(b);
    else out.append(piece.substr(pos, d.len));
    pos += d.len;
  }
  return out;
}

class BpeTokenizer final : public VocabTokenizer {
 public:
  BpeTokenizer(Vocab vocab, PreTokenizer pre, const gguf::Array& merges)
      : VocabTokenizer(std::move(vocab), /*strip_leading_space=*/false), pre_(std::move(pre)) {
    load_merges(merges);
    set_token_bytes(symbols_to_bytes);
  }

  std::string_view model_name() const override { return "gpt2"; }

 protected:
  void encode_text(std::string_view text, bool at_start, std::vector<Token>& out) const override;

 private:
  struct Symbol {
    int32_t id;          // symbol id; -1 once merged into the symbol on its left
    int32_t prev, next;  // neighbours among live symbols, -1 at the ends
  };
  struct Candidate {
    int32_t rank;
    int32_t left;               // index of the left symbol
    int32_t left_id, right_id;  // the pair when queued (stale entries are skipped)
    int32_t result;
  };
  struct Later {  // priority: lower rank first, then leftmost
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  using Queue = std::priority_queue<Candidate, std::vector<Candidate>, Later>;
  struct Scratch {  // buffers reused across the words of one text
    std::vector<std::pair<size_t, size_t>> words;
    std::vector<Symbol> symbols;
    Queue queue;
    std::string mapped;
  };

  void load_merges(const gguf::Array& merges);
  void merge_word(std::string_view word, Scratch& scratch, std::vector<Token>& out) const;

  PreTokenizer pre_;
  U64Map<MergeRule> merges_;                        // pair_key(left, right) -> rule
  std::array<int32_t, 256> byte_symbols_{};         // symbol id of each byte
  std::array<Token, 256> byte_tokens_{};            // token of each byte's symbol, or kNoToken
};

void BpeTokenizer::load_merges(const gguf::Array& merges) {
  std::unordered_map<std::string, int32_t> extra;  // strings that are not tokens -> ids from n_vocab on
  const auto symbol_id = [&](std::string_view s) {
    if (const Token id = vocab_.find(s); id != kNoToken) return id;
    return extra.try_emplace(std::string(s), vocab_.size() + int32_t(extra.size())).first->second;
  };
  merges_.reserve(merges.strings.size());
  std::string joined;
  for (size_t i = 0; i < merges.strings.size(); ++i) {
    const std::string_view line = merges.strings[i];
    const size_t space = line.size() > 1 ? line.find(' ', 1) : std::string_view::npos;  // "a b"; "  x": " " + "x"
    AMUSD_CHECK(space != std::string_view::npos && space + 1 < line.size(), vocab_.file, ": key '", kKeyMerges, "'[",
                i, "] = '", line, "' is not two symbols separated by a space");
    const std::string_view left = line.substr(0, space), right = line.substr(space + 1);
    joined.assign(left).append(right);
    const int32_t l = symbol_id(left), r = symbol_id(right);
    merges_.insert(pair_key(l, r), MergeRule{int32_t(i), symbol_id(joined)});  // the first rule wins
  }
  for (int b = 0; b < 256; ++b) {
    const std::string s = byte_symbol(uint8_t(b));
    byte_symbols_[size_t(b)] = symbol_id(s);
    byte_tokens_[size_t(b)] = vocab_.find(s);
  }
  // Every byte-level vocabulary has the printable ASCII symbols; without them this is not one.
  for (int b = 0x20; b < 0x7F; ++b)
    AMUSD_CHECK(byte_tokens_[size_t(b)] != kNoToken, vocab_.file, ": key '", kKeyTokens, "' has no token '",
                byte_symbol(uint8_t(b)), "' for byte 0x", "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15],
                "; a byte-level BPE vocabulary (", kKeyModel, " = gpt2) needs one for every printable ASCII byte");
}

void BpeTokenizer::encode_text(std::string_view text, bool /*at_start*/, std::vector<Token>& out) const {
  Scratch scratch;
  pre_.split(text, scratch.words);
  for (const auto& [begin, end] : scratch.words) {
    const std::string_view word = text.substr(begin, end - begin);
    if (pre_.ignore_merges()) {  // a word that is a token is taken whole
      scratch.mapped.clear();
      for (char c : word) unicode::append_utf8(scratch.mapped, unicode::byte_to_code_point(uint8_t(c)));
      if (const Token id = vocab_.find(scratch.mapped); id != kNoToken) {
        out.push_back(id);
        continue;
      }
    }
    merge_word(word, scratch, out);
  }
}

void BpeTokenizer::merge_word(std::string_view word, Scratch& scratch, std::vector<Token>& out) const {
  const auto n = int32_t(word.size());
  if (n == 0) return;
  std::vector<Symbol>& sym = scratch.symbols;
  sym.resize(size_t(n));
  for (int32_t i = 0; i < n; ++i)
    sym[size_t(i)] = {byte_symbols_[uint8_t(word[size_t(i)])], i - 1, i + 1 < n ? i + 1 : -1};

  Queue& queue = scratch.queue;  // empty: each word drains it
  const auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = sym[size_t(l)].id, b = sym[size_t(r)].id;
    if (const MergeRule* rule = merges_.find(pair_key(a, b))) queue.push({rule->rank, l, a, b, rule->result});
  };
  for (int32_t i = 1; i < n; ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[size_t(c.left)];
    if (left.id != c.left_id || left.next < 0) continue;
    Symbol& right = sym[size_t(left.next)];
    if (right.id != c.right_id) continue;
    left.id = c.result;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) sym[size_t(right.next)].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = sym[size_t(i)].next) {
    const int32_t id = sym[size_t(i)].id;
    if (id < vocab_.size()) {
      out.push_back(id);
      continue;
    }
    // Not a token: its bytes one by one; a byte the vocabulary has no symbol for is dropped, as the reference
    // engine does (real vocabularies lack only bytes that never occur in UTF-8, e.g. 0xC0, 0xF5..0xFF).
    const int32_t end = sym[size_t(i)].next < 0 ? n : sym[size_t(i)].next;
    for (int32_t j = i; j < end; ++j)
      if (const Token t = byte_tokens_[uint8_t(word[size_t(j)])]; t != kNoToken) out.push_back(t);
  }
}

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(const gguf::File& file) {
  // Without tokenizer.ggml.pre the reference engine warns and uses its "default" pre-tokenizer; so does this.
  const std::string_view pre_name = file.opt_string(kKeyPre).value_or("default");
  std::optional<PreTokenizer> pre = PreTokenizer::find(pre_name);
  if (!pre) {
    std::string known;
    for (std::string_view n : PreTokenizer::known_names()) known.append(known.empty() ? "" : ", ").append(n);
    fail(file.path(), ": unknown pre-tokenizer '", pre_name, "' (key '", kKeyPre, "'); known: ", known);
  }
  const gguf::Array* merges = file.opt_array(kKeyMerges, gguf::ValueType::STRING);
  AMUSD_CHECK(merges, file.path(), ": key '", kKeyMerges, "' is missing; a byte-level BPE vocabulary needs its merges");

  // tokenizer.ggml.add_space_prefix is not read: the reference engine never adds a space when encoding BPE (the key
  // would only make its decoder drop the first space, breaking decode(encode(s)) == s).
  VocabDefaults defaults = kBpeDefaults;
  defaults.add_bos = pre->add_bos();
  return std::make_unique<BpeTokenizer>(load_vocab(file, defaults), std::move(*pre), *merges);
}

}  // namespace amusd::tok::detail
