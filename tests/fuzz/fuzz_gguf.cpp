// libFuzzer entry point for the GGUF reader (not built by CMake; see README.md in this folder).
// Each input is parsed with gguf::File::from_bytes. A rejected input must throw amusd::Error whose message names the
// file; an accepted one must survive every getter, a read of every tensor byte and a writer round trip unchanged.
// Anything else (another exception, a sanitizer report, a broken invariant) is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz/gguf_exercise.h"
#include "gguf/gguf.h"

namespace {

constexpr const char* kName = "fuzz-input.gguf";

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "FINDING: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<amusd::gguf::File> f;
  try {
    f = amusd::gguf::File::from_bytes(std::vector<uint8_t>(data, data + size), kName);
  } catch (const amusd::Error& e) {
    if (std::string(e.what()).find(kName) == std::string::npos)
      finding(std::string("error without the file name: ") + e.what());
    return 0;
  }
  volatile uint64_t sink = amusd::fuzz::exercise(*f);
  (void)sink;
  const std::string diff = amusd::fuzz::round_trip_mismatch(*f);
  if (!diff.empty()) finding("round trip: " + diff);
  return 0;
}
