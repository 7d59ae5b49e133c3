// Our own Jinja templates for common chat formats, written from the formats' documentation: for models whose GGUF
// has no tokenizer.chat_template and for --chat-template NAME. For plain conversations each renders what the
// model's official template renders (tests/test_chat_template.cpp checks this), except where noted.
#include <algorithm>
#include <utility>

#include "chat/chat_template.h"
#include "core/error.h"

namespace amusd::chat {

namespace {

// ChatML (Qwen, Hermes, ...): <|im_start|>role\ncontent<|im_end|>\n per message. Unlike Qwen2.5's template, no
// default system message is added.
constexpr std::string_view kChatml = R"jinja(
{%- for message in messages -%}
    {{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|im_start|>assistant\n' -}}
{%- endif -%}
)jinja";

// Llama 3: a header per message, content trimmed, <|eot_id|> after each. The official 3.1+ templates also write a
// system header with "Cutting Knowledge Date" / "Today Date" lines; this one writes only the given messages.
constexpr std::string_view kLlama3 = R"jinja(
{{- bos_token -}}
{%- for message in messages -%}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
{%- endif -%}
)jinja";

// Mistral (v3 / Tekken, as Mistral Nemo): [INST]user[/INST]assistant</s>; an optional leading system message is
// put before the last user message.
constexpr std::string_view kMistral = R"jinja(
{%- if messages and messages[0]['role'] == 'system' -%}
    {%- set system_message = messages[0]['content'] -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{{- bos_token -}}
{%- for message in loop_messages -%}
    {%- if message['role'] not in ['user', 'assistant'] or (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') -}}
    {%- endif -%}
    {%- if message['role'] == 'user' -%}
        {%- if loop.last and system_message is defined -%}
            {{- '[INST]' + system_message + '\n\n' + message['content'] + '[/INST]' -}}
        {%- else -%}
            {{- '[INST]' + message['content'] + '[/INST]' -}}
        {%- endif -%}
    {%- else -%}
        {{- message['content'] + eos_token -}}
    {%- endif -%}
{%- endfor -%}
)jinja";

// Phi-3 / Phi-3.5: <|role|>\ncontent<|end|>\n; empty system messages are skipped; eos_token ends a conversation
// rendered without a generation prompt.
constexpr std::string_view kPhi3 = R"jinja(
{%- for message in messages -%}
    {%- if message['role'] != 'system' or message['content'] -%}
        {{- '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<|assistant|>\n' -}}
{%- else -%}
    {{- eos_token -}}
{%- endif -%}
)jinja";

// Gemma 2: <start_of_turn>user|model\ncontent<end_of_turn>\n, roles alternating from user. Gemma has no system
// role; where the official template raises an error, this one puts the system message at the start of the first
// user turn (as Gemma 3's template does).
constexpr std::string_view kGemma2 = R"jinja(
{{- bos_token -}}
{%- if messages and messages[0]['role'] == 'system' -%}
    {%- set first_prefix = messages[0]['content'] | trim + '\n\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_prefix = '' -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}
    {%- endif -%}
    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}
    {{- '<start_of_turn>' + role + '\n' + (first_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<start_of_turn>model\n' -}}
{%- endif -%}
)jinja";

// DeepSeek R1 (and its distills): the (last) system message right after BOS, <｜User｜> / <｜Assistant｜> turns,
// an assistant reply keeps only what follows its reasoning (</think>), and the generation prompt opens <think>.
constexpr std::string_view kDeepseekR1 = R"jinja(
{%- set ns = namespace(system_prompt='') -%}
{%- for message in messages -%}
    {%- if message['role'] == 'system' -%}
        {%- set ns.system_prompt = message['content'] -%}
    {%- endif -%}
{%- endfor -%}
{{- bos_token + ns.system_prompt -}}
{%- for message in messages -%}
    {%- if message['role'] == 'user' -%}
        {{- '<｜User｜>' + message['content'] -}}
    {%- elif message['role'] == 'assistant' -%}
        {%- set content = message['content'] -%}
        {%- if '</think>' in content -%}
            {%- set content = content.split('</think>')[-1] -%}
        {%- endif -%}
        {{- '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- '<｜Assistant｜><think>\n' -}}
{%- endif -%}
)jinja";

const std::pair<std::string_view, std::string_view> kBuiltins[] = {
    {"chatml", kChatml}, {"llama3", kLlama3}, {"mistral", kMistral},
    {"phi3", kPhi3},     {"gemma2", kGemma2}, {"deepseek-r1", kDeepseekR1},
};

}  // namespace

const std::vector<std::string>& builtin_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, source] : kBuiltins) out.emplace_back(name);
    return out;
  }();
  return names;
}

std::string_view builtin_template(std::string_view name) {
  for (const auto& [n, source] : kBuiltins)
    if (n == name) return source;
  std::string known;
  for (const auto& n : builtin_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown built-in chat template '", name, "' (known: ", known, ")");
}

}  // namespace amusd::chat
