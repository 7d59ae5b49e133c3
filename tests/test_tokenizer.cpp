// Tokenizer tests: the reference test vectors of every shared vocabulary, round trips, the recorded prompts and
// generations of the reference models, special tokens, streaming, bad vocabularies, the regex engine, speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "support.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace amusd {
namespace {

using tok::Token;
using tok::Tokenizer;

std::unique_ptr<Tokenizer> load(const std::string& rel) {
  const auto file = gguf::File::open(test::shared_path(rel));
  return Tokenizer::from_gguf(*file);
}

std::unique_ptr<Tokenizer> load_vocab(const std::string& name) { return load("vocab/ggml-vocab-" + name + ".gguf"); }

std::unique_ptr<Tokenizer> from_writer(const gguf::Writer& w, const std::string& name) {
  const auto file = gguf::File::from_bytes(w.to_bytes(), name);
  return Tokenizer::from_gguf(*file);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of the calling thread: steadier than wall time on a shared machine.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

bool valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const auto d = tok::unicode::decode(s, pos);
    if (!d.valid) return false;
    pos += d.len;
  }
  return true;
}

// ---- the reference test vectors (vocab/*.inp, *.out) ------------------------------------------------------

struct Vectors {
  std::vector<std::string> texts;
  std::vector<std::vector<Token>> ids;
};

Vectors read_vectors(const std::string& name) {
  const std::string base = test::shared_path("vocab/ggml-vocab-" + name + ".gguf");
  const std::string inp = test::read_file(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  Vectors v;
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    v.texts.push_back(inp.substr(pos, end - pos));
    pos = end + sep.size();
  }
  std::istringstream out(test::read_file(base + ".out"));
  for (std::string line; std::getline(out, line);) {
    std::istringstream fields(line);
    std::vector<Token> ids;
    for (Token id; fields >> id;) ids.push_back(id);
    v.ids.push_back(ids);
  }
  return v;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out;
}

class VocabVectors : public testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, EncodeMatchesReference) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto tok = load_vocab(GetParam());
  const double load_s = seconds_since(t0);
  const Vectors v = read_vectors(GetParam());
  ASSERT_EQ(v.texts.size(), 46u);
  ASSERT_EQ(v.texts.size(), v.ids.size());
  size_t passed = 0;
  for (size_t i = 0; i < v.texts.size(); ++i) {
    const std::vector<Token> got = tok->encode(v.texts[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, v.ids[i]) << "string " << i << ": '" << printable(v.texts[i]) << "'";
    passed += got == v.ids[i];
  }
  std::printf("[ vectors  ] %-15s %zu/%zu strings match (vocab %d tokens, loaded in %.3f s)\n", GetParam().c_str(),
              passed, v.texts.size(), tok->n_vocab(), load_s);
}

// Byte-level BPE represents any bytes, and SentencePiece has byte fallback and adds exactly one leading space that
// decode() removes again, so every test string round-trips (the vocabularies lack only bytes that never occur in
// UTF-8, and falcon a few ASCII control bytes, none of which the strings contain).
TEST_P(VocabVectors, DecodeRoundTrips) {
  const auto tok = load_vocab(GetParam());
  for (const std::string& s : read_vectors(GetParam()).texts) {
    const std::vector<Token> ids = tok->encode(s, false);
    EXPECT_EQ(tok->decode(ids), s) << "'" << printable(s) << "'";
    EXPECT_EQ(tok->decode(tok->encode(s, true)), s) << "with BOS/EOS: '" << printable(s) << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, VocabVectors,
                         testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder", "falcon",
                                         "starcoder", "refact", "mpt"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// ---- vocabularies without test vectors, defaults, special tokens ------------------------------------------

TEST(Tokenizer, GptNeoxLoadsAndRoundTrips) {
  const auto tok = load_vocab("gpt-neox");  // no tokenizer.ggml.pre: the reference engine's "default"
  EXPECT_EQ(tok->model_name(), "gpt2");
  EXPECT_EQ(tok->n_vocab(), 50432);
  for (std::string s : {"Hello world", "  two  spaces\tand\ttabs\n\n", "Ünïcödé 日本語 🚀",
                        "x = 3.14159 + 1234567;", "'s 'LL I'm", ""}) {
    const auto ids = tok->encode(s, false);
    EXPECT_EQ(tok->decode(ids), s) << s;
  }
  EXPECT_EQ(tok->encode("Hello world", false), (std::vector<Token>{12092, 1533}));  // as for mpt (same tokenizer)
  EXPECT_FALSE(tok->add_bos());
  EXPECT_TRUE(tok->is_eog(0));  // <|endoftext|>
}

TEST(Tokenizer, DefaultsFromTheReferenceEngine) {
  const auto stories = load("models/stories260K.gguf");  // SentencePiece without add_bos/add_eos keys
  EXPECT_EQ(stories->model_name(), "llama");
  EXPECT_TRUE(stories->add_bos());
  EXPECT_FALSE(stories->add_eos());
  EXPECT_EQ(stories->bos(), 1);
  EXPECT_EQ(stories->eos(), 2);
  EXPECT_TRUE(stories->is_eog(2));
  EXPECT_FALSE(stories->is_eog(1));
  EXPECT_EQ(stories->encode("", true), (std::vector<Token>{1}));
  EXPECT_TRUE(stories->encode("", false).empty());

  const auto qwen = load("models/qwen2-tiny-f16.gguf");  // gpt2 vocabulary without add_bos: no BOS added
  EXPECT_FALSE(qwen->add_bos());
  EXPECT_TRUE(qwen->is_eog(50256));
  EXPECT_EQ(qwen->find_piece("<|endoftext|>"), 50256);
  EXPECT_EQ(qwen->find_piece("no such piece"), tok::kNoToken);
}

TEST(Tokenizer, SpecialTokensInText) {
  const auto phi3 = load_vocab("phi-3");
  const Token user = phi3->find_piece("<|user|>"), end = phi3->find_piece("<|end|>");
  ASSERT_NE(user, tok::kNoToken);
  ASSERT_NE(end, tok::kNoToken);
  EXPECT_EQ(phi3->attr(user), tok::TokenAttr::Control);
  EXPECT_TRUE(phi3->is_eog(end));          // by its text, as the reference engine does
  EXPECT_TRUE(phi3->is_eog(phi3->eos()));  // <|endoftext|>
  EXPECT_FALSE(phi3->is_eog(user));

  const std::string text = "<|user|>\nHi<|end|>";
  const auto parsed = phi3->encode(text, false, /*parse_special=*/true);
  ASSERT_GE(parsed.size(), 3u);
  EXPECT_EQ(parsed.front(), user);
  EXPECT_EQ(parsed.back(), end);
  // The text after a special token gets the SentencePiece space prefix (as in the reference engine); decode()
  // removes it only from the first piece it outputs.
  EXPECT_EQ(phi3->decode(parsed, /*render_special=*/true), "<|user|> \nHi<|end|>");
  EXPECT_EQ(phi3->decode(parsed), "\nHi");
  const auto plain = phi3->encode(text, false, /*parse_special=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), user), 0);
  EXPECT_EQ(phi3->decode(plain), text);

  // User-defined tokens are matched even without parse_special (reference engine / HF tokenizers behaviour).
  const Token eos_text = phi3->find_piece("</s>");
  ASSERT_EQ(phi3->attr(eos_text), tok::TokenAttr::UserDefined);
  const auto ud = phi3->encode("a</s>b", false, false);
  EXPECT_EQ(std::count(ud.begin(), ud.end(), eos_text), 1);
  EXPECT_EQ(phi3->decode(ud), "a</s> b");  // the text after a special token gets the SPM space prefix

  // Longest special token first: mpt has user-defined runs of spaces.
  const auto mpt = load_vocab("mpt");
  EXPECT_EQ(mpt->encode("a     b", false), (std::vector<Token>{66, mpt->find_piece("     "), 67}));

  // BOS added, then the special token; render_special shows the control tokens.
  const auto llama = load_vocab("llama-spm");
  const auto ids = llama->encode("<s>Hi</s>", true, true);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(ids[1], 1);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ(llama->decode(ids, true), "<s><s> Hi</s>");
  EXPECT_EQ(llama->token_to_bytes(1), "");
  EXPECT_EQ(llama->token_to_bytes(1, true), "<s>");
  EXPECT_EQ(llama->token_to_bytes(0), "");  // <unk> is hidden like a control token
  EXPECT_THROW(llama->token_to_bytes(32000), Error);
  EXPECT_THROW(llama->token_to_bytes(-1), Error);
}

TEST(Tokenizer, SentencePieceLeadingSpace) {
  const auto tok = load("models/llama-2-tiny-random.gguf");
  const auto ids = tok->encode("Hello", false);
  EXPECT_EQ(tok->piece(ids[0]), "\xE2\x96\x81Hello");  // "▁Hello": the space prefix
  EXPECT_EQ(tok->token_to_bytes(ids[0]), " Hello");     // as a continuation the space stays
  EXPECT_EQ(tok->decode(ids), "Hello");                 // at the start of a text it is removed
  EXPECT_EQ(tok->decode(tok->encode("  x", false)), "  x");
}

TEST(Tokenizer, StreamDecoderHoldsPartialCharacters) {
  const auto tok = load_vocab("llama-spm");
  const std::string text = "Ünïcödé 🚀 日本語 🦙 ok";
  const auto ids = tok->encode(text, false);
  tok::StreamDecoder stream(*tok);
  std::string all;
  size_t held = 0;
  for (Token id : ids) {
    const std::string part = stream.feed(id);
    EXPECT_TRUE(valid_utf8(part)) << "token " << id;
    held += part.empty();
    all += part;
  }
  all += stream.flush();
  EXPECT_GT(held, 0u);  // the emojis are byte-fallback tokens: their first bytes must have been held back
  EXPECT_EQ(all, " " + text);
  EXPECT_EQ(tok->decode(ids), text);

  tok::StreamDecoder raw(*tok);  // a truncated character comes out at flush()
  EXPECT_EQ(raw.feed(tok->find_piece("<0xF0>")), "");
  EXPECT_EQ(raw.feed(tok->find_piece("<0x9F>")), "");
  EXPECT_EQ(raw.feed(tok->find_piece("<0x41>")), "\xF0\x9F" "A");  // cannot complete any more: passed through
  EXPECT_EQ(raw.feed(tok->find_piece("<0xE6>")), "");
  EXPECT_EQ(raw.flush(), "\xE6");
}

// ---- the reference models' prompts and generations -------------------------------------------------------

class ReferenceModels : public testing::TestWithParam<std::string> {};

TEST_P(ReferenceModels, PromptTokensAndGeneratedText) {
  const auto tok = load("models/" + GetParam() + ".gguf");
  const auto lines = test::read_jsonl(test::shared_path("reference/" + GetParam() + ".greedy.jsonl"));
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    const std::string prompt = line["prompt"];
    const auto prompt_tokens = line["prompt_tokens"].get<std::vector<Token>>();
    const auto generated = line["generated_tokens"].get<std::vector<Token>>();
    const std::string generated_text = line["generated_text"];
    EXPECT_EQ(tok->encode(prompt, /*add_special=*/true), prompt_tokens) << prompt;

    tok::StreamDecoder stream(*tok);
    std::string streamed;
    for (Token id : generated) streamed += stream.feed(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, generated_text) << prompt;

    // decode() treats its first piece as the start of a text, so decode the continuation with its prompt.
    std::vector<Token> all = prompt_tokens;
    all.insert(all.end(), generated.begin(), generated.end());
    EXPECT_EQ(tok->decode(all), prompt + generated_text) << prompt;
    EXPECT_EQ(tok->decode(prompt_tokens), prompt);
  }
}

INSTANTIATE_TEST_SUITE_P(Shared, ReferenceModels,
                         testing::Values("stories260K", "llama-2-tiny-random", "qwen2-tiny-f16"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// ---- bad vocabularies -------------------------------------------------------------------------------------

// A small byte-level BPE vocabulary: the 256 byte symbols (ids 0..255 in byte order), then "he", "ll", "hell",
// "hello", the control token "<|end|>" (260) and the user-defined tokens "ab" (261) and "bcd" (262).
struct BpeSpec {
  std::optional<std::string> pre = "gpt-2";
  bool with_tokens = true;
  bool with_merges = true;
  std::vector<std::string> merges = {"h e", "l l", "he ll", "hell o"};
  size_t drop_types = 0;  // token_type array shorter by this much
  std::optional<uint32_t> bos;
  std::string model = "gpt2";
};

gguf::Writer bpe_writer(const BpeSpec& spec) {
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  for (int b = 0; b < 256; ++b) {
    pieces.emplace_back();
    tok::unicode::append_utf8(pieces.back(), tok::unicode::byte_to_code_point(uint8_t(b)));
  }
  pieces.insert(pieces.end(), {"he", "ll", "hell", "hello", "<|end|>", "ab", "bcd"});
  types.assign(pieces.size(), 1);
  types[260] = 3;
  types[261] = types[262] = 4;
  types.resize(types.size() - spec.drop_types);

  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", spec.model);
  if (spec.pre) w.set_string("tokenizer.ggml.pre", *spec.pre);
  if (spec.with_tokens) w.set_strings("tokenizer.ggml.tokens", pieces);
  w.set_i32s("tokenizer.ggml.token_type", types);
  if (spec.with_merges) w.set_strings("tokenizer.ggml.merges", spec.merges);
  if (spec.bos) w.set_u32("tokenizer.ggml.bos_token_id", *spec.bos);
  return w;
}

// Expects Error with every fragment in its message.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string_view> fragments) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (std::string_view frag : fragments) EXPECT_NE(std::string(e.what()).find(frag), std::string::npos) << e.what();
  }
}

TEST(TokenizerErrors, SmallBpeVocabularyWorks) {
  const auto tok = from_writer(bpe_writer({}), "small.gguf");
  EXPECT_EQ(tok->encode("hello", false), (std::vector<Token>{259}));
  EXPECT_EQ(tok->encode("hello <|end|>!", false, true), (std::vector<Token>{259, ' ', 260, '!'}));
  EXPECT_EQ(tok->decode(tok->encode("hello <|end|>!", false, true)), "hello !");
  EXPECT_TRUE(tok->is_eog(260));
  // The longest special token is matched first over the whole text (as the reference engine does), even where a
  // shorter one starts earlier: "abcd" is "a" + "bcd", not "ab" + "cd".
  EXPECT_EQ(tok->encode("abcd", false), (std::vector<Token>{'a', 262}));
  EXPECT_EQ(tok->encode("abab", false), (std::vector<Token>{261, 261}));
}

TEST(TokenizerErrors, UnknownPreTokenizer) {
  BpeSpec spec;
  spec.pre = "no-such-pre";
  expect_error([&] { from_writer(bpe_writer(spec), "bad-pre.gguf"); },
               {"bad-pre.gguf", "no-such-pre", "tokenizer.ggml.pre"});
}

TEST(TokenizerErrors, UnknownPreTokenizerCopiedFromRealVocab) {
  const auto real = gguf::File::open(test::shared_path("vocab/ggml-vocab-gpt-2.gguf"));
  gguf::Writer w;
  for (const std::string& key : real->keys())
    if (key.rfind("tokenizer.", 0) == 0 && key != "tokenizer.ggml.pre") w.copy_kv(*real, key);
  w.set_string("tokenizer.ggml.pre", "gpt-5");
  expect_error([&] { from_writer(w, "copied.gguf"); }, {"copied.gguf", "gpt-5"});
}

TEST(TokenizerErrors, MissingTokens) {
  BpeSpec spec;
  spec.with_tokens = false;
  expect_error([&] { from_writer(bpe_writer(spec), "no-tokens.gguf"); }, {"no-tokens.gguf", "tokenizer.ggml.tokens"});
}

TEST(TokenizerErrors, MismatchedLengths) {
  BpeSpec spec;
  spec.drop_types = 3;
  expect_error([&] { from_writer(bpe_writer(spec), "types.gguf"); }, {"types.gguf", "tokenizer.ggml.token_type"});

  gguf::Writer w;  // SentencePiece scores shorter than the tokens
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
  w.set_f32s("tokenizer.ggml.scores", {0, 0, 0});
  expect_error([&] { from_writer(w, "scores.gguf"); }, {"scores.gguf", "tokenizer.ggml.scores"});

  gguf::Writer nan;  // a NaN score cannot be ordered
  nan.set_string("tokenizer.ggml.model", "llama");
  nan.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a"});
  nan.set_f32s("tokenizer.ggml.scores", {0, 0, 0, std::nanf("")});
  expect_error([&] { from_writer(nan, "nan.gguf"); }, {"nan.gguf", "tokenizer.ggml.scores", "[3]"});
}

TEST(TokenizerErrors, TokenIdOutOfRange) {
  BpeSpec spec;
  spec.bos = 100000;
  expect_error([&] { from_writer(bpe_writer(spec), "bos.gguf"); },
               {"bos.gguf", "tokenizer.ggml.bos_token_id", "100000"});
  spec.bos = 0xFFFFFFFFu;  // -1 written as u32: "no BOS"
  EXPECT_EQ(from_writer(bpe_writer(spec), "no-bos.gguf")->bos(), tok::kNoToken);
}

TEST(TokenizerErrors, MalformedMerges) {
  BpeSpec spec;
  spec.merges = {"h e", "nospace"};
  expect_error([&] { from_writer(bpe_writer(spec), "merges.gguf"); }, {"merges.gguf", "tokenizer.ggml.merges", "[1]"});
  spec.merges = {"h "};
  expect_error([&] { from_writer(bpe_writer(spec), "merges2.gguf"); }, {"merges2.gguf", "tokenizer.ggml.merges"});
  spec.with_merges = false;
  expect_error([&] { from_writer(bpe_writer(spec), "merges3.gguf"); }, {"merges3.gguf", "tokenizer.ggml.merges"});
}

TEST(TokenizerErrors, MissingByteTokens) {
  gguf::Writer spm;  // SentencePiece without <0xHH> tokens and without an unknown token
  spm.set_string("tokenizer.ggml.model", "llama");
  spm.set_strings("tokenizer.ggml.tokens", {"x", "<s>", "</s>", "\xE2\x96\x81" "a"});
  spm.set_i32("tokenizer.ggml.unknown_token_id", -1);
  expect_error([&] { from_writer(spm, "spm-bytes.gguf"); }, {"spm-bytes.gguf", "tokenizer.ggml.tokens", "<0x00>"});

  gguf::Writer bpe;  // gpt2 model whose vocabulary is not byte-level
  bpe.set_string("tokenizer.ggml.model", "gpt2");
  bpe.set_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
  bpe.set_strings("tokenizer.ggml.merges", {"a b"});
  expect_error([&] { from_writer(bpe, "bpe-bytes.gguf"); }, {"bpe-bytes.gguf", "tokenizer.ggml.tokens", "0x20"});
}

TEST(TokenizerErrors, UnsupportedModelAndBadIds) {
  BpeSpec spec;
  spec.model = "t5";
  expect_error([&] { from_writer(bpe_writer(spec), "t5.gguf"); }, {"t5.gguf", "tokenizer.ggml.model", "t5"});
  gguf::Writer none;
  none.set_string("general.architecture", "llama");
  expect_error([&] { from_writer(none, "none.gguf"); }, {"none.gguf", "tokenizer.ggml.model"});

  const auto tok = from_writer(bpe_writer({}), "small.gguf");
  const std::vector<Token> bad = {5, 100000};
  EXPECT_THROW(tok->decode(bad), Error);
  EXPECT_THROW(tok->piece(-3), Error);
}

// ---- Unicode tables and the regex engine ------------------------------------------------------------------

TEST(Unicode, Flags) {
  using namespace tok::unicode;
  EXPECT_EQ(flags('a'), kLetter);
  EXPECT_EQ(flags('7'), kNumber);
  EXPECT_EQ(flags(','), kPunctuation);
  EXPECT_EQ(flags('$'), kSymbol);
  EXPECT_EQ(flags(' '), kSeparator | kWhitespace);
  EXPECT_EQ(flags('\n'), kOther | kWhitespace);
  EXPECT_EQ(flags(0x1C), kOther);  // not White_Space (Python's isspace() says yes)
  EXPECT_EQ(flags(0x85), kOther | kWhitespace);
  EXPECT_EQ(flags(0x3000), kSeparator | kWhitespace);
  EXPECT_EQ(flags(0x4E2D), kLetter);   // 中
  EXPECT_EQ(flags(0x0301), kMark);     // combining acute
  EXPECT_EQ(flags(0x1F680), kSymbol);  // 🚀
  EXPECT_EQ(flags(0x10FFFF), kOther);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(code_point_to_byte(byte_to_code_point(uint8_t(b))), b);
  EXPECT_EQ(byte_to_code_point(' '), 0x120u);  // "Ġ"
}

int64_t match(std::string_view pattern, std::string_view text) {
  const tok::detail::Regex re(pattern);
  const auto cps = tok::detail::CodePoints::from_utf8(text);
  return re.match_at(cps, {0, uint32_t(cps.size())}, 0);
}

std::vector<std::string> split(std::string_view pattern, std::string_view text) {
  const tok::detail::Regex re(pattern);
  const auto cps = tok::detail::CodePoints::from_utf8(text);
  std::vector<tok::detail::Span> out;
  re.split(cps, {{0, uint32_t(cps.size())}}, out);
  std::vector<std::string> words;
  for (auto s : out)
    words.emplace_back(text.substr(cps.byte_offset[s.begin], cps.byte_offset[s.end] - cps.byte_offset[s.begin]));
  return words;
}

TEST(Regex, Constructs) {
  EXPECT_EQ(match(R"(\s+(?!\S))", "   a"), 2);  // backtracks so the last space stays with the word
  EXPECT_EQ(match(R"(\s+(?!\S))", "   "), 3);
  EXPECT_EQ(match(R"(\s+(?!\S))", " a"), -1);
  EXPECT_EQ(match(R"((?i:'s|'ll))", "'LL"), 3);
  EXPECT_EQ(match(R"(\p{N}{1,3})", "12345"), 3);
  EXPECT_EQ(match(R"([^\s\p{L}\p{N}]+)", "?!é"), 2);
  EXPECT_EQ(match(R"(\s+$)", "  "), 2);
  EXPECT_EQ(match(R"(\s+$)", "  x"), -1);
  EXPECT_EQ(match(R"(a(?=b)|ac)", "ac"), 2);
  EXPECT_EQ(match("(?:ab)+c", "ababc"), 5);
  EXPECT_EQ(match("(?:ab){1,2}", "ababab"), 4);
  EXPECT_EQ(match("[一-龥]+", "中文x"), 2);
  EXPECT_EQ(match(R"([\r\n])", "\n"), 1);
  EXPECT_EQ(match("\u3000", "\u3000"), -1);  // the reference engine's U+000B substitution for literals
  EXPECT_EQ(match(R"(\s)", "\u3000"), 1);
  EXPECT_EQ(split(R"('s|'t| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))", "it's  3 cats!!"),
            (std::vector<std::string>{"it", "'s", " ", " 3", " cats", "!!"}));
  EXPECT_EQ(split(R"(\p{N})", "a12b"), (std::vector<std::string>{"a", "1", "2", "b"}));
  for (const char* bad : {"a*?", "a++", "(a", "[a", ".", "(?<=a)", R"(\q)", "(?:)*", "a{3,1}"})
    EXPECT_THROW(tok::detail::Regex{bad}, Error) << bad;
}

TEST(PreTokenizer, Llama3AndQwen2) {
  const auto words = [](std::string_view name, std::string_view text) {
    const auto pre = tok::detail::PreTokenizer::find(name);
    EXPECT_TRUE(pre.has_value()) << name;
    std::vector<std::pair<size_t, size_t>> spans;
    pre->split(text, spans);
    std::vector<std::string> out;
    for (auto [b, e] : spans) out.emplace_back(text.substr(b, e - b));
    return out;
  };
  const std::string text = "I'VE 12345 hello\n\n  world";
  EXPECT_EQ(words("llama-bpe", text),
            (std::vector<std::string>{"I", "'VE", " ", "123", "45", " hello", "\n\n", " ", " world"}));
  EXPECT_EQ(words("qwen2", text),
            (std::vector<std::string>{"I", "'VE", " ", "1", "2", "3", "4", "5", " hello", "\n\n", " ", " world"}));
  EXPECT_EQ(words("gpt-2", "x\xFF\xFEy"), (std::vector<std::string>{"x", "\xFF\xFE", "y"}));  // invalid bytes: symbols
  EXPECT_FALSE(tok::detail::PreTokenizer::find("nope").has_value());
}

TEST(Tokenizer, InvalidUtf8RoundTrips) {
  const std::string bad = "ok \xFF\xC3 \xE6\x97 end\x80";
  for (const char* name : {"llama-spm", "gpt-2", "qwen2-tiny-f16"}) {
    const auto tok = std::string(name) == "qwen2-tiny-f16" ? load("models/qwen2-tiny-f16.gguf") : load_vocab(name);
    EXPECT_EQ(tok->decode(tok->encode(bad, true)), bad) << name;
  }
}

// Random bytes, random code points and special-token texts: no crash, and a lossless round trip where one is
// promised (byte-level BPE with all 256 byte symbols; SentencePiece without special tokens in the text and without
// a literal "▁", which it cannot tell from an escaped space: that one decodes as " ", in the reference engine too).
TEST(Tokenizer, RandomTextRoundTrips) {
  std::mt19937 rng(1234);
  const std::vector<std::string> snippets = {"<|endoftext|>", "<s>", "</s>", "  ", "\n",
                                             "'s",            "日本", "🦙",   "\xE2\x96\x81"};
  const auto random_text = [&] {
    std::string s;
    const int parts = int(rng() % 12);
    for (int i = 0; i < parts; ++i) {
      switch (rng() % 4) {
        case 0: s += char(rng() % 256); break;                                   // any byte
        case 1: tok::unicode::append_utf8(s, rng() % 0x3000); break;             // a code point
        case 2: s += snippets[rng() % snippets.size()]; break;                   // special-ish
        default: s += std::string(1 + rng() % 3, " aZ9.\t"[rng() % 6]); break;  // ASCII runs
      }
    }
    return s;
  };
  const auto gpt2 = load_vocab("gpt-2");
  const auto spm = load_vocab("llama-spm");
  for (int i = 0; i < 500; ++i) {
    const std::string s = random_text();
    EXPECT_EQ(gpt2->decode(gpt2->encode(s, true, false)), s);
    EXPECT_EQ(gpt2->decode(gpt2->encode(s, true, true), true), s);
    if (s.find("\xE2\x96\x81") == std::string::npos) {
      EXPECT_EQ(spm->decode(spm->encode(s, true, false)), s);
    }
    (void)spm->encode(s, true, true);  // special tokens in the text: only must not fail
  }
}

TEST(Tokenizer, ConcurrentEncodeIsSafe) {
  const auto tok = load_vocab("deepseek-coder");
  const std::string text = read_vectors("deepseek-coder").texts.back();
  const auto expected = tok->encode(text, false);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) mismatches += tok->encode(text, false) != expected;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- speed ------------------------------------------------------------------------------------------------

std::string large_text() {
  std::string text;
  for (const auto& line : test::read_jsonl(test::shared_path("datasets/humaneval.jsonl")))
    text += line["prompt"].get<std::string>();
  const std::string inp = test::read_file(test::shared_path("vocab/ggml-vocab-gpt-2.gguf.inp"));
  std::string mixed;
  while (mixed.size() < (1u << 20)) mixed += text + inp;  // code, prose, Unicode: about 1 MiB
  return mixed;
}

// A 150k-token vocabulary (the size of Qwen2's): gpt-2's tokens and merges plus 100k more tokens.
TEST(TokenizerSpeed, LoadsLargeVocabulary) {
  const auto real = gguf::File::open(test::shared_path("vocab/ggml-vocab-gpt-2.gguf"));
  std::vector<std::string> pieces;
  for (std::string_view p : real->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING).strings)
    pieces.emplace_back(p);
  std::vector<std::string> merges;
  for (std::string_view m : real->get_array("tokenizer.ggml.merges", gguf::ValueType::STRING).strings)
    merges.emplace_back(m);
  for (int i = 0; i < 100000; ++i) {  // "ĠwordN" made by merging "Ġword" and "N"
    pieces.push_back("\xC4\xA0word" + std::to_string(i));
    merges.push_back("\xC4\xA0word " + std::to_string(i));
  }
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set_strings("tokenizer.ggml.tokens", pieces);
  w.set_i32s("tokenizer.ggml.token_type", std::vector<int32_t>(pieces.size(), 1));
  w.set_strings("tokenizer.ggml.merges", merges);
  const auto bytes = w.to_bytes();

  const auto t0 = std::chrono::steady_clock::now();
  const auto file = gguf::File::from_bytes(bytes, "large.gguf");
  const auto tok = Tokenizer::from_gguf(*file);
  const double load_s = seconds_since(t0);
  std::printf("[ speed    ] %zu-token vocabulary with %zu merges parsed and loaded in %.3f s\n", pieces.size(),
              merges.size(), load_s);
  EXPECT_EQ(tok->n_vocab(), int32_t(pieces.size()));
  EXPECT_EQ(tok->decode(tok->encode(" word123 world", false)), " word123 world");
  EXPECT_LT(load_s, 3.0);  // generous for sanitizer builds; Release takes a small fraction of a second
}

// Long runs of one kind of character must not make the pre-tokenizers quadratic (a quadratic regex took over a
// minute on these; linear Release encodes take well under a second, sanitizer builds a few seconds).
TEST(TokenizerSpeed, LongRunsStayLinear) {
  constexpr double kLimitS = 10;
  const std::string spaces(100000, ' ');
  const std::vector<std::string> texts = {spaces + "\xC2\xA9", spaces + "x", std::string(100000, 'a'),
                                          std::string(100000, '7'), spaces + "\n" + spaces, std::string(100000, '!')};
  for (std::string name : {"deepseek-llm", "deepseek-coder", "falcon", "gpt-2", "llama-spm"}) {
    const auto tok = load_vocab(name);
    for (const std::string& text : texts) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto ids = tok->encode(text, false);
      const double s = seconds_since(t0);
      EXPECT_LT(s, kLimitS) << name << " on a run of " << text.size() << " bytes";
      EXPECT_EQ(tok->decode(ids), text) << name;
    }
  }
  for (std::string pre : {"llama-bpe", "qwen2", "default"}) {
    const auto p = tok::detail::PreTokenizer::find(pre);
    std::vector<std::pair<size_t, size_t>> words;
    for (const std::string& text : texts) {
      const auto t0 = std::chrono::steady_clock::now();
      p->split(text, words);
      EXPECT_LT(seconds_since(t0), kLimitS) << pre;
    }
  }
}

TEST(TokenizerSpeed, EncodeLargeText) {
  const std::string text = large_text();
  for (std::string name : {"llama-spm", "gpt-2", "deepseek-llm", "falcon"}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = load_vocab(name);
    const double load_s = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = thread_cpu_seconds();
    const auto ids = tok->encode(text, false);
    const double cpu_s = thread_cpu_seconds() - c1, wall_s = seconds_since(t1);
    std::printf("[ speed    ] %-13s load %.3f s, encode %.2f MB: %.1f MB/s of CPU time (%.1f MB/s wall), %zu tokens\n",
                name.c_str(), load_s, text.size() / 1e6, text.size() / 1e6 / cpu_s, text.size() / 1e6 / wall_s,
                ids.size());
    EXPECT_EQ(tok->decode(ids), text);
    EXPECT_LT(load_s, 2.0);  // generous for sanitizer builds; Release loads take well under a second
  }
}

}  // namespace
}  // namespace amusd
