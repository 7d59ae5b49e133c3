#include "server/responses.h"

namespace amusd::server {

using json = nlohmann::ordered_json;

std::string_view finish_reason(engine::StopReason reason) {
  switch (reason) {
    case engine::StopReason::EndOfGeneration:
    case engine::StopReason::StopString: return "stop";
    case engine::StopReason::Length:
    case engine::StopReason::ContextFull:
    case engine::StopReason::Cancelled: return "length";
  }
  return "length";
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

json speculative_json(const decode::Stats& s) {
  return {{"strategy", s.strategy},
          {"drafted", s.n_drafted},
          {"accepted", s.n_accepted},
          {"acceptance_rate", s.acceptance_rate()},
          {"mean_accepted_length", s.mean_accepted_length()}};
}

namespace {

json envelope(const ResponseContext& ctx, bool chunk) {
  const bool chat = ctx.endpoint == Endpoint::ChatCompletions;
  const char* object = chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", ctx.id}, {"object", object}, {"created", ctx.created}, {"model", ctx.model}};
}

void attach_usage(json& j, const engine::Result& r) {
  j["usage"] = usage_json(r.stats.n_prompt, int64_t(r.tokens.size()));
  j["speculative"] = speculative_json(r.stats);
}

}  // namespace

json completion_response(const ResponseContext& ctx, const engine::Result& r) {
  json j = envelope(ctx, false);
  json choice = {{"index", 0}};
  if (ctx.endpoint == Endpoint::ChatCompletions) choice["message"] = {{"role", "assistant"}, {"content", r.text}};
  else choice["text"] = r.text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason(r.reason);
  j["choices"] = json::array({std::move(choice)});
  attach_usage(j, r);
  return j;
}

json stream_chunk(const ResponseContext& ctx, std::string_view text, std::string_view finish,
                  const engine::Result* result, bool role_only) {
  json j = envelope(ctx, true);
  json choice = {{"index", 0}};
  if (ctx.endpoint == Endpoint::ChatCompletions) {
    if (role_only) choice["delta"] = {{"role", "assistant"}, {"content", ""}};
    else if (finish.empty() || !text.empty()) choice["delta"] = {{"content", text}};
    else choice["delta"] = json::object();
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish.empty() ? json(nullptr) : json(finish);
  j["choices"] = json::array({std::move(choice)});
  if (!finish.empty() && result) attach_usage(j, *result);
  return j;
}

json usage_chunk(const ResponseContext& ctx, const engine::Result& r) {
  json j = envelope(ctx, true);
  j["choices"] = json::array();
  attach_usage(j, r);
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump(j) + "\n\n"; }

}  // namespace amusd::server
