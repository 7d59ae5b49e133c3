#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/error.h"

namespace amusd::app {

namespace {

int64_t parse_int(const std::string& name, const std::string& v, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  AMUSD_CHECK(!v.empty() && *end == 0 && errno == 0, "invalid value '", v, "' for ", name, ": expected an integer");
  AMUSD_CHECK(x >= lo && x <= hi, "value ", x, " for ", name, " is out of range [", lo, ", ", hi, "]");
  return x;
}

}  // namespace

ArgParser::ArgParser(std::string usage, std::string description)
    : usage_(std::move(usage)), description_(std::move(description)) {}

void ArgParser::flag(std::vector<std::string> names, std::string help, bool* target) {
  opts_.push_back({std::move(names), "", std::move(help), [target](auto&, auto&) { *target = true; }, true});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help, std::string* target) {
  opts_.push_back({std::move(names), std::move(metavar), std::move(help), [target](auto&, auto& v) { *target = v; }});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help, int64_t* target) {
  opts_.push_back({std::move(names), std::move(metavar), std::move(help),
                   [target](auto& n, auto& v) { *target = parse_int(n, v, INT64_MIN / 2, INT64_MAX / 2); }});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help, int32_t* target) {
  opts_.push_back({std::move(names), std::move(metavar), std::move(help),
                   [target](auto& n, auto& v) { *target = int32_t(parse_int(n, v, INT32_MIN, INT32_MAX)); }});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help, uint64_t* target) {
  opts_.push_back({std::move(names), std::move(metavar), std::move(help), [target](auto& n, auto& v) {
                     AMUSD_CHECK(!v.empty() && v[0] != '-', "invalid value '", v, "' for ", n,
                                 ": expected a non-negative integer");
                     errno = 0;
                     char* end = nullptr;
                     const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
                     AMUSD_CHECK(*end == 0 && errno == 0, "invalid value '", v, "' for ", n,
                                 ": expected a non-negative integer");
                     *target = x;
                   }});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help, float* target) {
  opts_.push_back({std::move(names), std::move(metavar), std::move(help), [target](auto& n, auto& v) {
                     errno = 0;
                     char* end = nullptr;
                     const float x = std::strtof(v.c_str(), &end);
                     AMUSD_CHECK(!v.empty() && *end == 0 && errno == 0 && std::isfinite(x), "invalid value '", v,
                                 "' for ", n, ": expected a number");
                     *target = x;
                   }});
}

void ArgParser::option(std::vector<std::string> names, std::string metavar, std::string help,
                       std::vector<std::string>* target) {
  opts_.push_back(
      {std::move(names), std::move(metavar), std::move(help), [target](auto&, auto& v) { target->push_back(v); }});
}

void ArgParser::positional(std::string metavar, std::string help, std::string* target, bool required) {
  pos_.push_back({std::move(metavar), std::move(help), target, required});
}

ArgParser::Opt* ArgParser::find(const std::string& name) {
  for (auto& o : opts_)
    for (const auto& n : o.names)
      if (n == name) return &o;
  return nullptr;
}

bool ArgParser::given(const std::string& name) const {
  for (const auto& o : opts_)
    for (const auto& n : o.names)
      if (n == name) return o.seen;
  return false;
}

bool ArgParser::parse(int argc, char** argv, int first) {
  size_t n_pos = 0;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return false;
    if (arg.size() > 1 && arg[0] == '-' && !(std::isdigit(static_cast<unsigned char>(arg[1])) && pos_.size() > n_pos)) {
      std::string value;
      bool has_inline = false;
      if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline = true;
      }
      Opt* o = find(arg);
      AMUSD_CHECK(o, "unknown option '", arg, "' (see --help)");
      o->seen = true;
      if (o->is_flag) {
        AMUSD_CHECK(!has_inline, "option ", arg, " takes no value");
        o->set(arg, "");
        continue;
      }
      if (!has_inline) {
        AMUSD_CHECK(i + 1 < argc, "option ", arg, " needs a value (", o->metavar, ")");
        value = argv[++i];
      }
      o->set(arg, value);
    } else {
      AMUSD_CHECK(n_pos < pos_.size(), "unexpected argument '", arg, "' (see --help)");
      *pos_[n_pos++].target = arg;
    }
  }
  for (size_t i = n_pos; i < pos_.size(); ++i)
    AMUSD_CHECK(!pos_[i].required, "missing argument ", pos_[i].metavar, " (see --help)");
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream os;
  os << "usage: " << usage_ << "\n\n" << description_ << "\n";
  if (!pos_.empty()) {
    os << "\narguments:\n";
    for (const auto& p : pos_) os << "  " << p.metavar << std::string(p.metavar.size() < 26 ? 26 - p.metavar.size() : 1, ' ') << p.help << "\n";
  }
  os << "\noptions:\n";
  for (const auto& o : opts_) {
    std::string left = "  ";
    for (size_t i = 0; i < o.names.size(); ++i) left += (i ? ", " : "") + o.names[i];
    if (!o.metavar.empty()) left += " " + o.metavar;
    os << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help << "\n";
  }
  os << "  -h, --help                  show this help\n";
  return os.str();
}

}  // namespace amusd::app
