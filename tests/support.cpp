#include "support.h"

#include <cstdio>
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

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one.
size_t utf8_len(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 2 && c < 0xC2) return 0;                                   // overlong
  if (n == 3 && c == 0xE0 && b(i + 1) < 0xA0) return 0;               // overlong
  if (n == 3 && c == 0xED && b(i + 1) >= 0xA0) return 0;              // surrogate
  if (n == 4 && (c > 0xF4 || (c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;
  return n;
}

std::string escape_invalid_utf8(const std::string& line) {
  std::string out;
  for (size_t i = 0; i < line.size();) {
    const size_t n = utf8_len(line, i);
    if (n > 0) {
      out.append(line, i, n);
      i += n;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", 0xF700 + static_cast<unsigned char>(line[i]));
      out += buf;
      ++i;
    }
  }
  return out;
}

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(escape_invalid_utf8(line)));
  return out;
}

std::string raw_bytes(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    // U+F780..U+F7FF is EF 9E 80 .. EF 9F BF
    if (c == 0xEF && i + 2 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xFE) == 0x9E) {
      const unsigned cp = 0xF000 | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                          (static_cast<unsigned char>(s[i + 2]) & 0x3F);
      if (cp >= 0xF780 && cp <= 0xF7FF) {
        out += char(cp - 0xF700);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string amusd_binary() { return AMUSD_BINARY; }

}  // namespace amusd::test
