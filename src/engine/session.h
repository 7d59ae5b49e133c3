// A Session runs one generation through a strategy: the single generation path shared by the CLI, the benchmark and
// the server. It owns everything about output: the length limit, end-of-generation tokens, stop strings, detokenized
// streaming and the final statistics. No I/O.
#pragma once

#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "decode/strategy.h"
#include "engine/streamer.h"
#include "tokenizer/tokenizer.h"

namespace amusd::engine {

enum class StopReason { Length, EndOfGeneration, StopString, Cancelled, ContextFull };
std::string_view stop_reason_name(StopReason r);  // "length", "eog", "stop", "cancelled", "context_full"

struct GenerateOptions {
  int64_t max_new_tokens = 128;            // never exceeded, not even by a verified batch
  sampling::SamplerParams sampling;
  std::vector<std::string> stop;           // stop strings (not included in the output)
  bool ignore_eos = false;                 // keep going past end-of-generation tokens
};

struct Result {
  std::vector<int32_t> tokens;             // generated tokens (without the end-of-generation token)
  std::string text;                        // their text, cut before a stop string
  StopReason reason = StopReason::Length;
  decode::Stats stats;
};

class Session {
 public:
  Session(const tok::Tokenizer& tokenizer, decode::Strategy& strategy);

  // Generates after `prompt` (token ids, BOS included as wanted). Throws Error on invalid options.
  Result generate(std::vector<int32_t> prompt, const GenerateOptions& options, Streamer* streamer = nullptr,
                  std::stop_token stop = {});
  // Tokenizes `prompt` (adding BOS/EOS as the model's GGUF asks) and generates.
  Result generate_text(std::string_view prompt, const GenerateOptions& options, Streamer* streamer = nullptr,
                       std::stop_token stop = {});

 private:
  const tok::Tokenizer& tokenizer_;
  decode::Strategy& strategy_;
};

}  // namespace amusd::engine
