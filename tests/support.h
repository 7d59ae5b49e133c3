// Helpers shared by the tests: where ../shared is, reading reference JSON lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace amusd::test {

// Path of a file under ../shared (the directory given to CMake as AMUSD_SHARED_DIR).
std::string shared_path(const std::string& rel);
bool shared_exists(const std::string& rel);

// All JSON objects of a JSON-lines file.
std::vector<nlohmann::json> read_jsonl(const std::string& path);

// Whole file as a string.
std::string read_file(const std::string& path);

// Path of the built `amusd` binary.
std::string amusd_binary();

}  // namespace amusd::test
