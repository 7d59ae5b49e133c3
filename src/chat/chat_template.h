// Chat templates: turns a conversation into the prompt text a model was trained on. The template is the Jinja
// source stored in the model's GGUF file (tokenizer.chat_template) or one of our built-in formats. A small Jinja
// interpreter (lexer.h, parser.h, interpreter.h, builtins.h) renders it with the semantics of Hugging Face
// transformers' apply_chat_template (jinja2 sandbox, trim_blocks and lstrip_blocks on, json.dumps-style tojson,
// raise_exception and strftime_now defined), so prompts match what the model saw in training.
//
//   ChatTemplate t = ChatTemplate::parse(gguf_template_or(builtin_template("chatml")));
//   std::string prompt = t.render({{"system", "Be brief."}, {"user", "Hi"}}, {.bos_token = "<s>"});
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/options.h"

namespace amusd::chat {

struct Message {
  std::string role;     // "system", "user", "assistant", ...
  std::string content;
};

struct RenderOptions {
  bool add_generation_prompt = true;  // end with the opening of the assistant's turn
  std::string bos_token;              // the model's special tokens as text (templates insert them themselves)
  std::string eos_token;
  // More variables for the template, e.g. {"tools": [...], "date_string": "26 Jul 2024"}; they override the ones
  // above and the defaults tools = None and documents = None (what Hugging Face passes when there are none).
  // Objects keep their key order (it shows in tojson output).
  nlohmann::ordered_json extra_vars = nlohmann::ordered_json::object();
  // The time strftime_now() formats (Llama 3.2's "Today Date"); unset: the local time when rendering.
  std::optional<std::tm> now;
  RenderLimits limits;
};

class ChatTemplate {
 public:
  // Parses a Jinja chat template (trim_blocks / lstrip_blocks as in `syntax`, Hugging Face's by default). Throws
  // amusd::Error "chat template syntax error at line L, column C: ..." for malformed templates and for constructs the
  // interpreter does not support ({% include %}, {% call %}, recursive loops, unknown filters or tests, ...).
  static ChatTemplate parse(std::string_view source, const SyntaxOptions& syntax = {});

  // The prompt for a conversation of plain text messages.
  // Throws amusd::Error "chat template error at line L, column C: ..." when rendering fails (a type error, a limit of
  // options.limits), or "chat template raised an error at line L, column C: <message>" when the template calls
  // raise_exception (e.g. "Conversation roles must alternate user/assistant/user/assistant/...").
  std::string render(const std::vector<Message>& messages, const RenderOptions& options) const;

  // The same for messages given as JSON objects with any fields (tool_calls, tool_call_id, content null, ...), as an
  // OpenAI-style request carries them. Throws amusd::Error also when `messages` is not an array.
  std::string render_json(const nlohmann::ordered_json& messages, const RenderOptions& options) const;

  const std::string& source() const;

 private:
  struct Impl;
  explicit ChatTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable: copies share it, and renders may run concurrently
};

// Names of the built-in templates: "chatml", "llama3", "mistral", "phi3", "gemma2", "deepseek-r1".
const std::vector<std::string>& builtin_names();

// Our Jinja source for a built-in format (used by --chat-template NAME and for models without a template).
// Throws amusd::Error listing the known names when `name` is not one of them.
std::string_view builtin_template(std::string_view name);

}  // namespace amusd::chat
