#include "tokenizer/pretokenize.h"

#include <algorithm>

namespace amusd::tok::detail {

namespace {

// ---- the patterns (as in the reference engine's llama-vocab.cpp, which took them from the models' tokenizer.json;
//      the llama3 / qwen2 ones are written with (?i:...) as in tokenizer.json, which this engine supports) ----

// GPT-2: contractions, letters, numbers, other symbols (each with an optional leading space), white space.
constexpr std::string_view kGpt2 = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";

// Llama 3: case-insensitive contractions, numbers of at most 3 digits, newlines kept with the preceding symbols.
constexpr std::string_view kLlama3 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*)re"
    R"re(|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// Qwen2: as Llama 3 but single digits.
constexpr std::string_view kQwen2 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*)re"
    R"re(|\s*[\r\n]+|\s+(?!\S)|\s+)re";

// DeepSeek LLM. The letter class lists cased letters explicitly (written with \u escapes: several of them are
// canonically equivalent to other code points, e.g. U+2126 OHM SIGN, and must not be normalised).
constexpr std::string_view kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373"
    "\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F"
    "\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D"
    "\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D"
    "\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A"
    "\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
    "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
// ASCII and full-width punctuation, curly quotes, ideographic space .. full stop.
constexpr std::string_view kDeepseekLlmPunct = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
// CJK ideographs 一..龥, U+0800..一, Hangul syllables 가..U+D7FF.
constexpr std::string_view kCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

struct Entry {
  std::vector<std::string_view> names;     // tokenizer.ggml.pre values
  std::vector<std::string_view> patterns;  // applied in order
  bool ignore_merges = false;
  bool add_bos = false;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      // The reference engine's default, also used when tokenizer.ggml.pre is absent (see bpe.cpp).
      {{"default"}, {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", "[0-9][0-9][0-9]"}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral"}, {kLlama3}, true, true},
      {{"dbrx", "smaug-bpe"}, {kLlama3}},
      {{"deepseek-llm"}, {"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct, R"re(\s+$)re", kCjk, R"re(\p{N}+)re"}},
      {{"deepseek-coder"}, {"[\r\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kCjk, R"re(\p{N})re"}},
      {{"falcon"}, {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, "[0-9][0-9][0-9]"}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"}, {R"re(\p{N})re", kGpt2}},
      // "gpt-neox" is not a name the reference engine knows (its GGUFs carry no tokenizer.ggml.pre, which means
      // "default"); it is accepted here as GPT-2, the pre-tokenizer of the GPT-NeoX tokenizer (as "mpt", the same
      // tokenizer).
      {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "mpt", "olmo", "jais",
        "trillion", "exaone4", "gpt-neox"},
       {kGpt2}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, {kQwen2}},
  };
  return table;
}

}  // namespace

std::optional<PreTokenizer> PreTokenizer::find(std::string_view name) {
  for (const Entry& e : entries()) {
    if (std::find(e.names.begin(), e.names.end(), name) == e.names.end()) continue;
    PreTokenizer p;
    for (std::string_view pattern : e.patterns) p.patterns_.emplace_back(pattern);
    p.ignore_merges_ = e.ignore_merges;
    p.add_bos_ = e.add_bos;
    return p;
  }
  return std::nullopt;
}

std::vector<std::string_view> PreTokenizer::known_names() {
  std::vector<std::string_view> names;
  for (const Entry& e : entries()) names.insert(names.end(), e.names.begin(), e.names.end());
  return names;
}

void PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& words) const {
  words.clear();
  if (text.empty()) return;
  const CodePoints cps = CodePoints::from_utf8(text);
  std::vector<Span> spans{{0, uint32_t(cps.size())}}, next;
  for (const Regex& re : patterns_) {
    next.clear();
    re.split(cps, spans, next);
    spans.swap(next);
  }
  words.reserve(spans.size());
  for (const Span s : spans) words.emplace_back(cps.byte_offset[s.begin], cps.byte_offset[s.end]);
}

}  // namespace amusd::tok::detail
