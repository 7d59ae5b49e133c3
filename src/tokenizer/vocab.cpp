#include "tokenizer/vocab.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace amusd::tok::detail {

// ---- special tokens in text -----------------------------------------------------------------------------

void SpecialMatcher::add(Token id, std::string_view text) {
  AMUSD_ASSERT(!text.empty());
  auto it = std::find_if(groups_.begin(), groups_.end(), [&](const Group& g) { return g.length <= text.size(); });
  if (it == groups_.end() || it->length != text.size()) {
    it = groups_.insert(it, Group{});
    it->length = text.size();
  }
  it->tokens.emplace(text, id);
  it->first_byte[uint8_t(text[0])] = true;
  any_first_byte_[uint8_t(text[0])] = true;
}

std::vector<Fragment> SpecialMatcher::partition(std::string_view text) const {
  std::vector<Fragment> frags, next;
  if (text.empty()) return frags;
  frags.push_back({kNoToken, 0, text.size()});
  if (groups_.empty()) return frags;
  std::vector<size_t> starts;  // where some special token could start, in order
  for (size_t pos = 0; pos < text.size(); ++pos)
    if (any_first_byte_[uint8_t(text[pos])]) starts.push_back(pos);

  for (const Group& g : groups_) {
    next.clear();
    auto cand = starts.begin();
    for (const Fragment& f : frags) {
      if (f.token != kNoToken || f.end - f.begin < g.length) {
        next.push_back(f);
        continue;
      }
      size_t rest = f.begin;  // start of the plain text not emitted yet
      cand = std::lower_bound(cand, starts.end(), f.begin);
      for (; cand != starts.end() && *cand + g.length <= f.end; ++cand) {
        const size_t pos = *cand;
        if (pos < rest || !g.first_byte[uint8_t(text[pos])]) continue;  // inside the previous match, or no token
        const auto hit = g.tokens.find(text.substr(pos, g.length));
        if (hit == g.tokens.end()) continue;
        if (rest < pos) next.push_back({kNoToken, rest, pos});
        next.push_back({hit->second, 0, 0});
        rest = pos + g.length;
      }
      if (rest < f.end) next.push_back({kNoToken, rest, f.end});
    }
    frags.swap(next);
  }
  return frags;
}

// ---- loading --------------------------------------------------------------------------------------------

namespace {

// Tokens the reference engine treats as end of generation because of their text (llama-vocab.cpp), whatever
// their type says; it also makes them control tokens.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
};

TokenAttr attr_from_type(int32_t type) {
  return type >= 0 && type <= int32_t(TokenAttr::Byte) ? TokenAttr(type) : TokenAttr::Undefined;
}

// Reads an integer array, naming the file and key on any problem.
std::vector<int32_t> read_i32s(const gguf::File& f, std::string_view key, const gguf::Array& a) {
  try {
    return gguf::File::to_i32(a);
  } catch (const Error& e) {
    fail(f.path(), ": key '", key, "': ", e.what());
  }
}

std::vector<float> read_scores(const gguf::File& f, size_t n) {
  const gguf::Value* v = f.find(kKeyScores);
  if (!v) return std::vector<float>(n, 0.0f);
  const auto* a = std::get_if<gguf::Array>(&v->v);
  AMUSD_CHECK(a, f.path(), ": key '", kKeyScores, "' must be an array of floats, found ",
              gguf::value_type_name(v->type));
  AMUSD_CHECK(a->count == n, f.path(), ": key '", kKeyScores, "' has ", a->count, " entries but '", kKeyTokens,
              "' has ", n, " tokens");
  std::vector<float> out;
  if (a->elem == gguf::ValueType::F32 || a->elem == gguf::ValueType::F64) {
    out = gguf::File::to_f32(*a);
  } else {  // the reference engine also accepts integer scores
    for (int32_t s : read_i32s(f, kKeyScores, *a)) out.push_back(float(s));
  }
  for (size_t i = 0; i < n; ++i)  // scores are compared when merging: NaN has no order
    AMUSD_CHECK(!std::isnan(out[i]), f.path(), ": key '", kKeyScores, "'[", i, "] is NaN");
  return out;
}

std::vector<TokenAttr> read_attrs(const gguf::File& f, size_t n) {
  const gguf::Array* a = f.opt_array(kKeyTokenType, gguf::ValueType::I32);
  if (!a) return std::vector<TokenAttr>(n, TokenAttr::Normal);
  AMUSD_CHECK(a->count == n, f.path(), ": key '", kKeyTokenType, "' has ", a->count, " entries but '", kKeyTokens,
              "' has ", n, " tokens");
  std::vector<TokenAttr> attrs;
  attrs.reserve(n);
  for (int32_t t : read_i32s(f, kKeyTokenType, *a)) attrs.push_back(attr_from_type(t));
  return attrs;
}

// A special token id from `key`, or `fallback` when the key is absent. -1 (also written as u32 0xFFFFFFFF) means
// "no such token"; any other value outside the vocabulary is an error.
Token read_token_id(const gguf::File& f, std::string_view key, Token fallback, int32_t n_vocab) {
  const std::optional<int64_t> v = f.opt_int(key);
  if (!v) return fallback >= 0 && fallback < n_vocab ? fallback : kNoToken;
  if (*v == -1 || *v == int64_t(std::numeric_limits<uint32_t>::max())) return kNoToken;
  AMUSD_CHECK(*v >= 0 && *v < n_vocab, f.path(), ": key '", key, "' = ", *v,
              " is not a token id (the vocabulary has ", n_vocab, " tokens)");
  return Token(*v);
}

void read_pieces(const gguf::File& f, Vocab& v) {
  const gguf::Array* tokens = f.opt_array(kKeyTokens, gguf::ValueType::STRING);
  AMUSD_CHECK(tokens, f.path(), ": key '", kKeyTokens, "' (the vocabulary) is missing");
  const size_t n = tokens->strings.size();
  AMUSD_CHECK(n > 0 && n < size_t(std::numeric_limits<int32_t>::max()), f.path(), ": key '", kKeyTokens, "' has ",
              n, " tokens");
  v.pieces.assign(tokens->strings.begin(), tokens->strings.end());
  v.ids.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (v.pieces[i].empty()) continue;  // cannot be matched; the reference engine renames it "[EMPTY_i]"
    const int32_t id = v.ids.insert(v.pieces[i], Token(i));
    AMUSD_CHECK(id == Token(i), f.path(), ": key '", kKeyTokens, "': token '", v.pieces[i], "' appears twice (ids ",
                id, " and ", i, ")");
  }
}

void read_special_ids(const gguf::File& f, const VocabDefaults& d, Vocab& v) {
  const int32_t n = v.size();
  v.bos = read_token_id(f, kKeyBos, d.bos, n);
  v.eos = read_token_id(f, kKeyEos, d.eos, n);
  v.unk = read_token_id(f, kKeyUnk, d.unk, n);
  v.add_bos = f.opt_bool(kKeyAddBos).value_or(d.add_bos);
  v.add_eos = f.opt_bool(kKeyAddEos).value_or(d.add_eos);
  AMUSD_CHECK(!v.add_bos || v.bos != kNoToken, f.path(), ": '", kKeyAddBos, "' is true but there is no BOS token ('",
              kKeyBos, "')");
  AMUSD_CHECK(!v.add_eos || v.eos != kNoToken, f.path(), ": '", kKeyAddEos, "' is true but there is no EOS token ('",
              kKeyEos, "')");

  v.eog.assign(size_t(n), false);
  for (Token id : {v.eos, read_token_id(f, kKeyEot, kNoToken, n), read_token_id(f, kKeyEom, kNoToken, n)})
    if (id != kNoToken) v.eog[size_t(id)] = true;
  for (std::string_view text : kEogTexts) {
    const Token id = v.find(text);
    if (id == kNoToken) continue;
    v.eog[size_t(id)] = true;
    v.attrs[size_t(id)] = TokenAttr::Control;
  }
}

void build_matchers(Vocab& v) {
  for (Token id = 0; id < v.size(); ++id) {
    const TokenAttr a = v.attrs[size_t(id)];
    const std::string& text = v.pieces[size_t(id)];
    if (text.empty()) continue;
    if (a == TokenAttr::UserDefined) v.user_defined.add(id, text);
    if (a == TokenAttr::UserDefined || a == TokenAttr::Control || a == TokenAttr::Unknown) v.all_special.add(id, text);
  }
}

}  // namespace

Vocab load_vocab(const gguf::File& f, const VocabDefaults& defaults) {
  Vocab v;
  v.file = f.path();
  read_pieces(f, v);
  v.scores = read_scores(f, v.pieces.size());
  v.attrs = read_attrs(f, v.pieces.size());
  read_special_ids(f, defaults, v);
  build_matchers(v);
  return v;
}

int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

// ---- shared tokenizer operations ------------------------------------------------------------------------

VocabTokenizer::VocabTokenizer(Vocab vocab, bool strip_leading_space)
    : vocab_(std::move(vocab)), strip_leading_space_(strip_leading_space) {}

size_t VocabTokenizer::check_id(Token id) const {
  AMUSD_CHECK(id >= 0 && id < vocab_.size(), "token id ", id, " is out of range: the vocabulary of ", vocab_.file,
              " has ", vocab_.size(), " tokens");
  return size_t(id);
}

void VocabTokenizer::set_token_bytes(const std::function<std::string(std::string_view)>& normal) {
  bytes_.clear();
  bytes_offset_.assign(1, 0);
  for (size_t i = 0; i < vocab_.pieces.size(); ++i) {
    const std::string& piece = vocab_.pieces[i];
    switch (vocab_.attrs[i]) {
      case TokenAttr::Normal: bytes_ += normal(piece); break;
      case TokenAttr::Byte:
        if (const int b = parse_byte_piece(piece); b >= 0) bytes_ += char(b);
        else bytes_ += normal(piece);
        break;
      case TokenAttr::Control:
      case TokenAttr::Unknown:
      case TokenAttr::UserDefined: bytes_ += piece; break;
      case TokenAttr::Unused:
      case TokenAttr::Undefined: break;
    }
    AMUSD_CHECK(bytes_.size() < std::numeric_limits<uint32_t>::max(), vocab_.file, ": vocabulary too large");
    bytes_offset_.push_back(uint32_t(bytes_.size()));
  }
}

std::string VocabTokenizer::token_to_bytes(Token id, bool render_special) const {
  const size_t i = check_id(id);
  const TokenAttr a = vocab_.attrs[i];
  if (!render_special && (a == TokenAttr::Control || a == TokenAttr::Unknown)) return {};
  return bytes_.substr(bytes_offset_[i], bytes_offset_[i + 1] - bytes_offset_[i]);
}

std::string VocabTokenizer::decode(std::span<const Token> ids, bool render_special) const {
  std::string out;
  bool first = true;
  for (Token id : ids) {
    const size_t i = check_id(id);
    const TokenAttr a = vocab_.attrs[i];
    if (!render_special && (a == TokenAttr::Control || a == TokenAttr::Unknown)) continue;
    std::string_view piece(bytes_.data() + bytes_offset_[i], bytes_offset_[i + 1] - bytes_offset_[i]);
    if (piece.empty()) continue;
    if (first && strip_leading_space_ && piece[0] == ' ') piece.remove_prefix(1);
    first = false;
    out += piece;
  }
  return out;
}

std::vector<Token> VocabTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  AMUSD_CHECK(text.size() < (size_t(1) << 31), "cannot tokenize a text of ", text.size(), " bytes (limit 2 GiB)");
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && vocab_.add_bos) out.push_back(vocab_.bos);
  // Without parse_special only user-defined tokens are matched, as the reference engine (and HF tokenizers) do.
  const SpecialMatcher& matcher = parse_special ? vocab_.all_special : vocab_.user_defined;
  bool at_start = true;
  for (const Fragment& f : matcher.partition(text)) {
    if (f.token != kNoToken) {
      out.push_back(f.token);
      at_start = true;
    } else {
      encode_text(text.substr(f.begin, f.end - f.begin), at_start, out);
      at_start = false;
    }
  }
  if (add_special && vocab_.add_eos) out.push_back(vocab_.eos);
  return out;
}

}  // namespace amusd::tok::detail
