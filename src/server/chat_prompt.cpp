#include "server/chat_prompt.h"

#include "core/error.h"
#include "model/tensor_names.h"
#include "server/api_error.h"

namespace amusd::server {

namespace {

std::string known_names() {
  std::string s;
  for (const auto& n : chat::builtin_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The text of a special token as templates write it ("<s>", "<|begin_of_text|>"); "" if the vocabulary has none.
std::string special_text(const tok::Tokenizer& tok, tok::Token id) {
  return id == tok::kNoToken ? std::string() : tok.token_to_bytes(id, /*render_special=*/true);
}

}  // namespace

ChatPrompt::ChatPrompt(const model::Model& model, const std::string& builtin_name) : model_(model) {
  if (!builtin_name.empty()) {
    tmpl_ = chat::ChatTemplate::parse(chat::builtin_template(builtin_name));
    description_ = "built-in " + builtin_name;
    return;
  }
  const auto source = model.file().opt_string(model::names::kChatTemplate);
  if (!source) {
    description_ = "none";
    reason_ = str_cat("the model has no chat template (", model::names::kChatTemplate,
                      "); start the server with --chat-template NAME (", known_names(), ")");
    return;
  }
  try {
    tmpl_ = chat::ChatTemplate::parse(*source);
    description_ = "the model's (GGUF) template";
  } catch (const Error& e) {
    description_ = "unusable";
    reason_ = str_cat("the model's chat template cannot be used: ", e.what(),
                      "; start the server with --chat-template NAME (", known_names(), ")");
  }
}

std::vector<int32_t> ChatPrompt::tokens(const nlohmann::ordered_json& messages) const {
  if (!tmpl_) throw ApiError(400, reason_, "messages", "chat_template_unavailable");
  const tok::Tokenizer& tok = model_.tokenizer();
  chat::RenderOptions ro;
  ro.add_generation_prompt = true;
  ro.bos_token = special_text(tok, tok.bos());
  ro.eos_token = special_text(tok, tok.eos());
  std::string text;
  try {
    text = tmpl_->render_json(messages, ro);
  } catch (const Error& e) {
    throw ApiError(400, str_cat("cannot apply the chat template to these messages: ", e.what()), "messages",
                   "chat_template_error");
  }
  std::vector<int32_t> ids = tok.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (tok.add_bos() && tok.bos() != tok::kNoToken && (ids.empty() || ids.front() != tok.bos()))
    ids.insert(ids.begin(), tok.bos());
  return ids;
}

}  // namespace amusd::server
