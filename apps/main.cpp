// amusd: asynchronous multi-device speculative decoding. Thin front end: parses the subcommand and reports errors.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "commands.h"
#include "core/error.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* help;
};

const Command kCommands[] = {
    {"generate", amusd::app::cmd_generate, "generate text with a model (ar, sd or amusd)"},
    {"tokenize", amusd::app::cmd_tokenize, "print the token ids of a text"},
    {"inspect", amusd::app::cmd_inspect, "print a GGUF file's metadata and tensors"},
    {"synth", amusd::app::cmd_synth, "write a deterministic random-weight model (or draft/target pair)"},
    {"quantize", amusd::app::cmd_quantize, "re-encode a model's matrices in another type"},
    {"bench", amusd::app::cmd_bench, "benchmark ar / sd / amusd on prompt sets; JSON, HTML report, roofline"},
    {"serve", amusd::app::cmd_serve, "OpenAI-compatible HTTP server (completions, chat, streaming) with ar / sd / amusd"},
};

void usage(FILE* out) {
  std::fprintf(out, "usage: amusd <command> [options]   (amusd <command> --help for details)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string_view cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      return c.run(argc, argv);
    } catch (const amusd::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "error: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
