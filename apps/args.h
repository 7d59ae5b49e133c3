// A small table-driven command-line parser with llama.cpp-style options (-m, -md, --temp ...) and clear errors.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace amusd::app {

class ArgParser {
 public:
  ArgParser(std::string usage, std::string description);

  // names: e.g. {"-m", "--model"}. The help text may mention the default.
  void flag(std::vector<std::string> names, std::string help, bool* target);
  void option(std::vector<std::string> names, std::string metavar, std::string help, std::string* target);
  void option(std::vector<std::string> names, std::string metavar, std::string help, int64_t* target);
  void option(std::vector<std::string> names, std::string metavar, std::string help, int32_t* target);
  void option(std::vector<std::string> names, std::string metavar, std::string help, uint64_t* target);
  void option(std::vector<std::string> names, std::string metavar, std::string help, float* target);
  // Repeatable: every occurrence appends.
  void option(std::vector<std::string> names, std::string metavar, std::string help, std::vector<std::string>* target);
  // Positional arguments, in order; `required` ones must be present.
  void positional(std::string metavar, std::string help, std::string* target, bool required = true);

  // Parses argv[first..argc). Throws Error naming the offending argument. Returns false if --help was given
  // (help() has the text to print).
  bool parse(int argc, char** argv, int first = 1);
  bool given(const std::string& name) const;  // whether an option was given explicitly
  std::string help() const;

 private:
  struct Opt {
    std::vector<std::string> names;
    std::string metavar, help;
    std::function<void(const std::string&, const std::string&)> set;  // (name used, value)
    bool is_flag = false;
    bool seen = false;
  };
  struct Pos {
    std::string metavar, help;
    std::string* target;
    bool required;
  };
  Opt* find(const std::string& name);

  std::string usage_, description_;
  std::vector<Opt> opts_;
  std::vector<Pos> pos_;
};

}  // namespace amusd::app
