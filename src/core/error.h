// Errors that carry context. Library code throws amusd::Error; only main() and the server decide what to do.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace amusd {

// An error caused by input (a file, an option, a request), with a message meant for the user.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates all arguments with operator<< into one string.
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// Throws Error with the concatenated message.
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace amusd

// CHECK for conditions that depend on input: the message names what was expected and what was found.
#define AMUSD_CHECK(cond, ...)              \
  do {                                      \
    if (!(cond)) [[unlikely]]               \
      ::amusd::fail(__VA_ARGS__);           \
  } while (0)

// ASSERT for internal invariants (a bug in amusd, not in the input); names the source location.
#define AMUSD_ASSERT(cond)                                                                        \
  do {                                                                                            \
    if (!(cond)) [[unlikely]]                                                                     \
      ::amusd::fail("internal error: ", #cond, " failed at ", __FILE__, ":", __LINE__);           \
  } while (0)
