// Turns the messages of a chat request into prompt tokens with the model's chat template: the GGUF's
// tokenizer.chat_template, or a built-in one chosen with --chat-template NAME. A model without a usable template
// still serves completions; its chat requests get a 400 that says what to do.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "model/model.h"

namespace amusd::server {

class ChatPrompt {
 public:
  // builtin_name: "" to use the model's template, else one of chat::builtin_names() (throws Error listing them for
  // an unknown name). A model template that cannot be parsed does not throw: unavailable_reason() tells why.
  ChatPrompt(const model::Model& model, const std::string& builtin_name);

  bool available() const { return tmpl_.has_value(); }
  const std::string& unavailable_reason() const { return reason_; }
  const std::string& describe() const { return description_; }  // "built-in chatml", "the model's (GGUF) template"

  // Renders `messages` (validated OpenAI messages) with a generation prompt and tokenizes the text: special tokens
  // written by the template are parsed, BOS is added in front when the model wants one and the template did not
  // write it. Throws ApiError(400) when no template is available or the template cannot render the conversation
  // (e.g. it raises "roles must alternate").
  std::vector<int32_t> tokens(const nlohmann::ordered_json& messages) const;

 private:
  const model::Model& model_;
  std::optional<chat::ChatTemplate> tmpl_;
  std::string description_;
  std::string reason_;
};

}  // namespace amusd::server
