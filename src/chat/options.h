// Options of the chat-template interpreter shared by its parts and its public API (chat_template.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace amusd::chat {

// How text around block tags is trimmed. The defaults are Hugging Face transformers' (the chat-template reference):
// jinja2.Environment(trim_blocks=True, lstrip_blocks=True); jinja2's own defaults are false/false. With jinja2's
// defaults, templates written as indented code ({%- if %} on its own line) would emit their indentation.
struct SyntaxOptions {
  bool trim_blocks = true;    // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;  // drop spaces and tabs before a block or comment tag that starts its line
};

// Resource bounds of one render, so that no template (from a model file or a request) can run away.
struct RenderLimits {
  size_t max_output_bytes = size_t(64) << 20;    // the rendered text, and any one string built on the way
  uint64_t max_bytes_built = uint64_t(1) << 30;  // all strings and lists built while rendering, together
  uint64_t max_steps = 1'000'000;  // loop iterations, macro calls and range() items, together: a real chat template
                                   // takes a few per message; a million take about a second
  int max_depth = 400;             // nesting of evaluation: expressions, statements, macro calls
  // Wall time of one render, checked at each step and each string built (some steps take time in proportion to the
  // strings they handle, so the step count alone does not bound the time). 0: no limit.
  uint32_t max_milliseconds = 10'000;
};

}  // namespace amusd::chat
