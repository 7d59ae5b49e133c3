// Subcommands of the `amusd` binary. Each returns the process exit code; errors are thrown as amusd::Error.
#pragma once

namespace amusd::app {

int cmd_generate(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_inspect(int argc, char** argv);
int cmd_synth(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_serve(int argc, char** argv);

}  // namespace amusd::app
