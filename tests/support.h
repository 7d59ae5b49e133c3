// Helpers shared by the tests: where ../shared is, reading reference JSON lines.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace amusd::test {

// Path of a file under ../shared (the directory given to CMake as AMUSD_SHARED_DIR).
std::string shared_path(const std::string& rel);
bool shared_exists(const std::string& rel);

// All JSON objects of a JSON-lines file. Raw bytes that are not valid UTF-8 (the reference engine writes the exact
// bytes a random model generated) are kept losslessly: each becomes U+F780 + (byte - 0x80) in the parsed strings;
// raw_bytes() turns such a string back into the original bytes.
std::vector<nlohmann::json> read_jsonl(const std::string& path);
std::string raw_bytes(const std::string& s);

// Whole file as a string.
std::string read_file(const std::string& path);

// Path of the built `amusd` binary.
std::string amusd_binary();

}  // namespace amusd::test
