#include "bench/dataset.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"

namespace amusd::bench {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

// Splits into lines ('\n'), dropping one trailing '\r' per line; calls f(line, 1-based number).
template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t start = 0;
  for (int64_t number = 1; start < text.size(); ++number) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line, number);
    start = end + 1;
  }
}

std::string conversation_prompt(const nlohmann::json& messages) {
  AMUSD_CHECK(messages.is_array() && !messages.empty(), "\"conversation\" must be a non-empty array of messages");
  std::string out;
  for (const auto& m : messages) {
    const nlohmann::json* content = &m;
    if (m.is_object()) {
      AMUSD_CHECK(m.contains("content"), "a \"conversation\" message has no \"content\" field");
      content = &m["content"];
    }
    AMUSD_CHECK(content->is_string(), "\"conversation\" messages must be strings or objects with a string \"content\"");
    if (!out.empty()) out += "\n\n";
    out += content->get<std::string>();
  }
  return out;
}

std::vector<std::string> parse_json_lines(std::string_view contents, const std::string& source) {
  std::vector<std::string> prompts;
  for_each_line(contents, [&](std::string_view line, int64_t number) {
    if (is_blank(line)) return;
    try {
      const auto record = nlohmann::json::parse(line);
      prompts.push_back(prompt_of_record(record));
    } catch (const nlohmann::json::parse_error& e) {
      fail(source, ":", number, ": invalid JSON (", e.what(), ")");
    } catch (const Error& e) {
      fail(source, ":", number, ": ", e.what());
    }
  });
  return prompts;
}

std::vector<std::string> parse_json_array(std::string_view contents, const std::string& source) {
  nlohmann::json array;
  try {
    array = nlohmann::json::parse(contents);
  } catch (const nlohmann::json::parse_error& e) {
    fail(source, ": invalid JSON (", e.what(), ")");
  }
  AMUSD_CHECK(array.is_array(), source, ": expected an array of records");
  std::vector<std::string> prompts;
  for (size_t i = 0; i < array.size(); ++i) {
    try {
      prompts.push_back(prompt_of_record(array[i]));
    } catch (const Error& e) {
      fail(source, ": record ", i, ": ", e.what());
    }
  }
  return prompts;
}

}  // namespace

DatasetFormat format_for_path(std::string_view path) {
  for (std::string_view ext : {".jsonl", ".ndjson", ".json"})
    if (ends_with(path, ext)) return DatasetFormat::JsonLines;
  return DatasetFormat::Text;
}

std::string prompt_of_record(const nlohmann::json& record) {
  AMUSD_CHECK(record.is_object(), "expected a JSON object, got ", record.type_name());
  if (record.contains("prompt")) {
    AMUSD_CHECK(record["prompt"].is_string(), "\"prompt\" must be a string, got ", record["prompt"].type_name());
    return record["prompt"].get<std::string>();
  }
  if (record.contains("turns")) {
    const auto& turns = record["turns"];
    AMUSD_CHECK(turns.is_array() && !turns.empty() && turns[0].is_string(),
                "\"turns\" must be a non-empty array of strings");
    return turns[0].get<std::string>();
  }
  if (record.contains("conversation")) return conversation_prompt(record["conversation"]);
  fail("no \"prompt\", \"turns\" or \"conversation\" field");
}

std::vector<std::string> parse_prompts(std::string_view contents, DatasetFormat format, const std::string& source) {
  std::vector<std::string> prompts;
  if (format == DatasetFormat::Text) {
    for_each_line(contents, [&](std::string_view line, int64_t) {
      if (!is_blank(line)) prompts.emplace_back(line);
    });
  } else {
    const size_t first = contents.find_first_not_of(" \t\r\n");
    const bool array = first != std::string_view::npos && contents[first] == '[';
    prompts = array ? parse_json_array(contents, source) : parse_json_lines(contents, source);
  }
  AMUSD_CHECK(!prompts.empty(), source, ": no prompts found");
  for (size_t i = 0; i < prompts.size(); ++i)
    AMUSD_CHECK(!prompts[i].empty(), source, ": prompt ", i, " is empty");
  return prompts;
}

Dataset load_dataset(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  AMUSD_CHECK(in, "cannot read dataset '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  AMUSD_CHECK(!in.bad(), "error reading dataset '", path, "'");
  Dataset d;
  d.path = path;
  d.name = std::filesystem::path(path).stem().string();
  d.prompts = parse_prompts(ss.str(), format_for_path(path), path);
  return d;
}

}  // namespace amusd::bench
