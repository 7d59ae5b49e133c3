#include "chat/chat_template.h"

#include <unordered_map>

#include "chat/interpreter.h"
#include "chat/parser.h"

namespace amusd::chat {

struct ChatTemplate::Impl {
  std::string source;
  Body body;
};

ChatTemplate ChatTemplate::parse(std::string_view source, const SyntaxOptions& syntax) {
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(source);
  impl->body = parse_template(impl->source, syntax);
  return ChatTemplate(std::move(impl));
}

const std::string& ChatTemplate::source() const { return impl_->source; }

namespace {

std::tm local_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

// The variables Hugging Face's apply_chat_template passes, then the caller's extra ones.
std::string render_messages(const Body& body, Value messages, const RenderOptions& o) {
  AMUSD_CHECK(o.extra_vars.is_object(), "chat template variables must be a JSON object, got ", o.extra_vars.type_name());
  std::unordered_map<std::string, Value> vars;
  vars["messages"] = std::move(messages);
  vars["add_generation_prompt"] = Value(o.add_generation_prompt);
  vars["bos_token"] = Value(o.bos_token);
  vars["eos_token"] = Value(o.eos_token);
  vars["tools"] = Value(None{});
  vars["documents"] = Value(None{});
  for (const auto& [key, value] : o.extra_vars.items()) vars[key] = from_json(value);
  return render_template(body, vars, o.limits, o.now ? *o.now : local_now());
}

}  // namespace

std::string ChatTemplate::render(const std::vector<Message>& messages, const RenderOptions& options) const {
  std::vector<Value> items;
  items.reserve(messages.size());
  for (const Message& m : messages) {
    auto d = make_dict();
    d->set(Value("role"), Value(m.role));
    d->set(Value("content"), Value(m.content));
    items.emplace_back(std::move(d));
  }
  return render_messages(impl_->body, make_list(std::move(items)), options);
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages, const RenderOptions& options) const {
  AMUSD_CHECK(messages.is_array(), "chat messages must be a JSON array, got ", messages.type_name());
  return render_messages(impl_->body, from_json(messages), options);
}

}  // namespace amusd::chat
