#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace amusd::tok {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  const std::optional<std::string_view> model = file.opt_string(detail::kKeyModel);
  AMUSD_CHECK(model, file.path(), ": key '", detail::kKeyModel, "' is missing: the file has no tokenizer");
  if (*model == "llama") return detail::make_spm_tokenizer(file);
  if (*model == "gpt2") return detail::make_bpe_tokenizer(file);
  fail(file.path(), ": unsupported tokenizer '", *model, "' (key '", detail::kKeyModel,
       "'); supported: llama (SentencePiece), gpt2 (byte-level BPE)");
}

// ---- StreamDecoder --------------------------------------------------------------------------------------

namespace {

// Length of the longest prefix of s that does not end inside a UTF-8 character that may still be completed:
// only a trailing lead byte followed by fewer continuation bytes than it announces is held back.
size_t complete_prefix(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = uint8_t(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    size_t need = 1;
    if ((b & 0xE0) == 0xC0) need = 2;
    else if ((b & 0xF0) == 0xE0) need = 3;
    else if ((b & 0xF8) == 0xF0) need = 4;
    return back < need ? n - back : n;
  }
  return n;  // only continuation bytes at the end: nothing can complete them
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool render_special) : tok_(tok), render_special_(render_special) {}

std::string StreamDecoder::feed(Token id) {
  pending_ += tok_.token_to_bytes(id, render_special_);
  const size_t n = complete_prefix(pending_);
  std::string out = pending_.substr(0, n);
  pending_.erase(0, n);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace amusd::tok
