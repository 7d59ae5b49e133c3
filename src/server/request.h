// Parsing and validation of OpenAI-style generation requests (POST /v1/completions, /v1/chat/completions) into what
// the engine runs. Every field is type- and range-checked; anything wrong throws ApiError(400) naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/session.h"

namespace amusd::server {

enum class Endpoint { Completions, ChatCompletions };

// Server-side bounds and defaults applied while parsing.
struct RequestLimits {
  int64_t n_ctx = 2048;               // context size: max_tokens may not exceed it
  int32_t n_vocab = 0;                // token ids in a prompt must be below it
  int64_t default_max_tokens = 256;   // when the request gives no max_tokens
  size_t max_stop_strings = 16;
  size_t max_stop_length = 256;       // bytes per stop string
};

struct GenerationRequest {
  Endpoint endpoint = Endpoint::Completions;
  // Completions: the prompt, as text or as token ids (exactly one is set).
  std::optional<std::string> prompt_text;
  std::optional<std::vector<int32_t>> prompt_tokens;
  // Chat: the messages, each an object with a string "role" and "content" (text parts joined into one string).
  nlohmann::ordered_json messages;
  engine::GenerateOptions options;    // max_new_tokens, sampling, stop, ignore_eos
  bool seed_given = false;            // false: options.sampling.seed is to be drawn at random
  std::string strategy;               // "ar", "sd", "amusd", or "" for the server's default
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage: a last chunk with only usage
};

// Parses a request body. Throws ApiError(400) for invalid JSON, a body that is not an object, a missing or mistyped
// field, a value out of range, n != 1, an unknown strategy, or options this server does not support (echo, logprobs,
// best_of > 1). Unknown fields are ignored, as OpenAI clients send many optional ones.
GenerationRequest parse_request(Endpoint endpoint, std::string_view body, const RequestLimits& limits);

}  // namespace amusd::server
