#include "support.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace amusd::test {

std::string shared_path(const std::string& rel) { return std::string(AMUSD_SHARED_DIR) + "/" + rel; }

bool shared_exists(const std::string& rel) { return std::filesystem::exists(shared_path(rel)); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string amusd_binary() { return AMUSD_BINARY; }

}  // namespace amusd::test
