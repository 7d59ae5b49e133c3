// Prompt sets for the benchmark. A dataset file is either JSON lines (one object per line; the prompt is its
// "prompt" string, else the first of its "turns", else the contents of its "conversation" messages joined by a
// blank line) or plain text (one prompt per line, taken literally). The format follows the file name: .jsonl,
// .ndjson and .json are JSON (a .json file may also hold one array of such objects), anything else is text.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace amusd::bench {

enum class DatasetFormat { JsonLines, Text };

struct Dataset {
  std::string name;                  // file name without directory and extension: "mt_bench"
  std::string path;
  std::vector<std::string> prompts;  // in file order; never empty
};

// The format a file name implies (see the header comment).
DatasetFormat format_for_path(std::string_view path);

// The prompt of one JSON record. Throws Error saying which field is missing or has the wrong type.
std::string prompt_of_record(const nlohmann::json& record);

// Parses a dataset's contents. Text: every non-blank line is a prompt (a trailing '\r' is dropped). `source` names
// the file in errors, which also give the line number. Throws Error for invalid JSON, a record without a prompt, or
// contents without any prompt.
std::vector<std::string> parse_prompts(std::string_view contents, DatasetFormat format, const std::string& source);

// Reads and parses a dataset file. Throws Error if it cannot be read or parsed.
Dataset load_dataset(const std::string& path);

}  // namespace amusd::bench
