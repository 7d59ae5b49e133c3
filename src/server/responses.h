// OpenAI response bodies and Server-Sent Events for completions and chat completions, plus this server's extra
// "speculative" object: {"strategy", "drafted", "accepted", "acceptance_rate", "mean_accepted_length"}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/session.h"
#include "server/request.h"

namespace amusd::server {

// What every object of one response shares.
struct ResponseContext {
  Endpoint endpoint = Endpoint::Completions;
  std::string id;        // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;   // Unix seconds
  std::string model;
};

// "stop" (end of generation or a stop string) or "length" (max_tokens or a full context).
std::string_view finish_reason(engine::StopReason reason);

nlohmann::ordered_json usage_json(int64_t prompt_tokens, int64_t completion_tokens);
nlohmann::ordered_json speculative_json(const decode::Stats& stats);

// The non-streamed response: choices[0] with "text" (completions) or "message" (chat), usage and speculative.
nlohmann::ordered_json completion_response(const ResponseContext& ctx, const engine::Result& result);

// One streamed chunk. text: the new text (chat: delta.content; with role_only the delta is {"role": "assistant",
// "content": ""}); finish: "" while generating, else the finish reason (then usage and speculative are attached
// from `result`, which must be non-null).
nlohmann::ordered_json stream_chunk(const ResponseContext& ctx, std::string_view text, std::string_view finish,
                            const engine::Result* result = nullptr, bool role_only = false);
// The chunk stream_options.include_usage asks for after the last one: "choices": [] and usage.
nlohmann::ordered_json usage_chunk(const ResponseContext& ctx, const engine::Result& result);

// "data: <json>\n\n". Text that is not valid UTF-8 (a model can emit half a character at the end) is replaced.
std::string sse_event(const nlohmann::ordered_json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// JSON text for a response body, with the same replacement of invalid UTF-8.
std::string dump(const nlohmann::ordered_json& j);

}  // namespace amusd::server
