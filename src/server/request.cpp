#include "server/request.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "engine/engine.h"
#include "server/api_error.h"

namespace amusd::server {

using json = nlohmann::ordered_json;

// ---- errors and JSON types --------------------------------------------------------------------------------

std::string error_type(int status) {
  if (status == 503) return "unavailable_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

json error_body(int status, const std::string& message, const std::string& param, const std::string& code) {
  json e = {{"message", message}, {"type", error_type(status)}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) e["param"] = param;
  if (!code.empty()) e["code"] = code;
  return {{"error", std::move(e)}};
}

namespace {

constexpr int kMaxJsonDepth = 64;  // arrays/objects nested deeper are refused before parsing

template <class... Args>
[[noreturn]] void bad_request(const std::string& param, const Args&... message) {
  throw ApiError(400, str_cat(message...), param);
}

std::string type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::null: return "null";
    default: return "an unsupported value";
  }
}

// True if arrays/objects in `text` nest deeper than `max_depth` (brackets inside strings do not count).
bool nests_too_deep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

json parse_body(std::string_view body) {
  if (nests_too_deep(body, kMaxJsonDepth))
    bad_request("", "invalid JSON: arrays and objects may nest at most ", kMaxJsonDepth, " levels");
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    bad_request("", "invalid JSON in the request body: ", e.what());
  }
  if (!j.is_object()) bad_request("", "the request body must be a JSON object, got ", type_name(j));
  return j;
}

// ---- typed field readers: absent and null fields give nullopt ---------------------------------------------

const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// An integer in [lo, hi]; numbers with a fractional part are refused, 16.0 is accepted as 16.
std::optional<int64_t> int_field(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > uint64_t(hi)) bad_request(name, "'", name, "' must be in [", lo, ", ", hi, "], got ", u);
    x = int64_t(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
             std::fabs(v->get<double>()) < 9e15) {
    x = int64_t(v->get<double>());
  } else {
    bad_request(name, "'", name, "' must be an integer, got ", type_name(*v));
  }
  if (x < lo || x > hi) bad_request(name, "'", name, "' must be in [", lo, ", ", hi, "], got ", x);
  return x;
}

std::optional<double> number_field(const json& body, const char* name, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_request(name, "'", name, "' must be a number, got ", type_name(*v));
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad_request(name, "'", name, "' must be in [", lo, ", ", hi, "], got ", x);
  return x;
}

std::optional<bool> bool_field(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad_request(name, "'", name, "' must be a boolean, got ", type_name(*v));
  return v->get<bool>();
}

std::optional<std::string> string_field(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad_request(name, "'", name, "' must be a string, got ", type_name(*v));
  return v->get<std::string>();
}

// ---- the fields -------------------------------------------------------------------------------------------

// prompt: a string, an array holding one string, or an array of token ids.
void read_prompt(const json& body, int32_t n_vocab, GenerationRequest& r) {
  const json* p = field(body, "prompt");
  if (!p) bad_request("prompt", "missing 'prompt'");
  if (p->is_string()) {
    r.prompt_text = p->get<std::string>();
    return;
  }
  if (!p->is_array()) bad_request("prompt", "'prompt' must be a string or an array, got ", type_name(*p));
  if (p->empty()) bad_request("prompt", "'prompt' must not be an empty array");
  if ((*p)[0].is_string()) {
    if (p->size() != 1) bad_request("prompt", "only one prompt per request is supported, got ", p->size());
    r.prompt_text = (*p)[0].get<std::string>();
    return;
  }
  std::vector<int32_t> ids;
  for (const json& t : *p) {
    if (!t.is_number_integer()) bad_request("prompt", "'prompt' arrays must hold token ids, got ", type_name(t));
    const int64_t id = t.get<int64_t>();
    if (id < 0 || id >= n_vocab)
      bad_request("prompt", "token id ", id, " is outside the vocabulary [0, ", n_vocab, ")");
    ids.push_back(int32_t(id));
  }
  r.prompt_tokens = std::move(ids);
}

// A message's content: a string, null, or an array of {"type": "text", "text": ...} parts (joined).
json read_content(const json& msg, size_t index) {
  const std::string param = str_cat("messages[", index, "].content");
  const auto it = msg.find("content");
  if (it == msg.end()) bad_request(param, "missing '", param, "'");
  if (it->is_string() || it->is_null()) return *it;
  if (!it->is_array()) bad_request(param, "'", param, "' must be a string, an array of parts or null, got ",
                                   type_name(*it));
  std::string text;
  for (const json& part : *it) {
    const json* type = part.is_object() ? field(part, "type") : nullptr;
    const json* t = part.is_object() ? field(part, "text") : nullptr;
    if (!type || *type != "text" || !t || !t->is_string())
      bad_request(param, "'", param, "' parts must be {\"type\": \"text\", \"text\": string}; other kinds are not ",
                  "supported");
    text += t->get<std::string>();
  }
  return text;
}

void read_messages(const json& body, GenerationRequest& r) {
  const json* m = field(body, "messages");
  if (!m) bad_request("messages", "missing 'messages'");
  if (!m->is_array()) bad_request("messages", "'messages' must be an array, got ", type_name(*m));
  if (m->empty()) bad_request("messages", "'messages' must hold at least one message");
  r.messages = json::array();
  for (size_t i = 0; i < m->size(); ++i) {
    const json& msg = (*m)[i];
    if (!msg.is_object()) bad_request("messages", "messages[", i, "] must be an object, got ", type_name(msg));
    const json* role = field(msg, "role");
    if (!role || !role->is_string() || role->get<std::string>().empty())
      bad_request(str_cat("messages[", i, "].role"), "messages[", i, "].role must be a non-empty string");
    json out = msg;
    out["content"] = read_content(msg, i);
    r.messages.push_back(std::move(out));
  }
}

std::vector<std::string> read_stop(const json& body, const RequestLimits& limits) {
  const json* s = field(body, "stop");
  if (!s) return {};
  std::vector<std::string> out;
  if (s->is_string()) {
    out.push_back(s->get<std::string>());
  } else if (s->is_array()) {
    for (const json& x : *s) {
      if (!x.is_string()) bad_request("stop", "'stop' must hold strings, got ", type_name(x));
      out.push_back(x.get<std::string>());
    }
  } else {
    bad_request("stop", "'stop' must be a string or an array of strings, got ", type_name(*s));
  }
  if (out.size() > limits.max_stop_strings)
    bad_request("stop", "at most ", limits.max_stop_strings, " stop strings, got ", out.size());
  for (const auto& x : out)
    if (x.size() > limits.max_stop_length)
      bad_request("stop", "stop strings may be at most ", limits.max_stop_length, " bytes, got ", x.size());
  std::erase(out, std::string());
  return out;
}

void read_sampling(const json& body, GenerationRequest& r) {
  sampling::SamplerParams& sp = r.options.sampling;
  // OpenAI's defaults: plain temperature sampling at 1.0, no top-k / top-p / min-p filtering.
  sp.temperature = float(number_field(body, "temperature", 0.0, 2.0).value_or(1.0));
  sp.top_p = float(number_field(body, "top_p", 0.0, 1.0).value_or(1.0));
  sp.top_k = int32_t(int_field(body, "top_k", 0, 1 << 20).value_or(0));
  sp.min_p = float(number_field(body, "min_p", 0.0, 1.0).value_or(0.0));
  // seed: any non-negative 64-bit integer; -1 (llama.cpp's convention) or absent: a random seed.
  const json* seed = field(body, "seed");
  if (seed && seed->is_number_unsigned()) {
    sp.seed = seed->get<uint64_t>();
    r.seed_given = true;
  } else if (const auto s = int_field(body, "seed", -1, std::numeric_limits<int64_t>::max()); s && *s >= 0) {
    sp.seed = uint64_t(*s);
    r.seed_given = true;
  }
}

// Options of the OpenAI API this server does not implement: refused unless they have their neutral value.
void refuse_unsupported(const json& body, Endpoint endpoint) {
  if (int_field(body, "n", 1, 1 << 20).value_or(1) != 1) bad_request("n", "only n = 1 is supported");
  if (int_field(body, "best_of", 1, 1 << 20).value_or(1) != 1) bad_request("best_of", "only best_of = 1 is supported");
  if (bool_field(body, "echo").value_or(false)) bad_request("echo", "'echo' is not supported");
  if (const json* lp = field(body, "logprobs")) {
    const bool off = endpoint == Endpoint::ChatCompletions ? (lp->is_boolean() && !lp->get<bool>())
                                                           : (lp->is_number_integer() && lp->get<int64_t>() == 0);
    if (!off) bad_request("logprobs", "'logprobs' is not supported");
  }
  if (const auto suffix = string_field(body, "suffix"); suffix && !suffix->empty())
    bad_request("suffix", "'suffix' is not supported");
}

}  // namespace

GenerationRequest parse_request(Endpoint endpoint, std::string_view body_text, const RequestLimits& limits) {
  const json body = parse_body(body_text);
  GenerationRequest r;
  r.endpoint = endpoint;
  string_field(body, "model");  // any name is accepted (the server has one model) but it must be a string
  refuse_unsupported(body, endpoint);
  if (endpoint == Endpoint::Completions) read_prompt(body, limits.n_vocab, r);
  else read_messages(body, r);

  // Chat: max_completion_tokens (OpenAI's newer name) wins over max_tokens; both are validated when given.
  std::optional<int64_t> max_tokens = int_field(body, "max_tokens", 1, limits.n_ctx);
  if (endpoint == Endpoint::ChatCompletions)
    if (const auto m = int_field(body, "max_completion_tokens", 1, limits.n_ctx)) max_tokens = m;
  r.options.max_new_tokens = max_tokens.value_or(std::min(limits.default_max_tokens, limits.n_ctx));
  read_sampling(body, r);
  r.options.stop = read_stop(body, limits);
  r.options.ignore_eos = bool_field(body, "ignore_eos").value_or(false);

  r.stream = bool_field(body, "stream").value_or(false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad_request("stream_options", "'stream_options' must be an object, got ", type_name(*so));
    r.include_usage = bool_field(*so, "include_usage").value_or(false);
  }
  if (const auto s = string_field(body, "strategy")) {
    if (!engine::is_strategy_name(*s)) bad_request("strategy", "unknown strategy '", *s, "' (choose ar, sd or amusd)");
    r.strategy = *s;
  }
  return r;
}

}  // namespace amusd::server
