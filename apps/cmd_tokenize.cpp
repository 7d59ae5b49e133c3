// amusd tokenize -m MODEL.gguf -p TEXT [--pieces] [--no-special] [--parse-special]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace amusd::app {

int cmd_tokenize(int argc, char** argv) {
  std::string model_path, prompt, prompt_file;
  bool pieces = false, no_special = false, parse_special = false;
  ArgParser args("amusd tokenize -m MODEL.gguf (-p TEXT | -f FILE) [options]",
                 "Prints the token ids of TEXT on one line, space separated, with the BOS/EOS the model's GGUF asks "
                 "for.");
  args.option({"-m", "--model"}, "FILE", "model (or vocabulary-only) GGUF file", &model_path);
  args.option({"-p", "--prompt"}, "TEXT", "text to tokenize", &prompt);
  args.option({"-f", "--file"}, "FILE", "read the text from a file", &prompt_file);
  args.flag({"--pieces"}, "print id:'piece' pairs", &pieces);
  args.flag({"--no-special"}, "do not add BOS/EOS", &no_special);
  args.flag({"--parse-special"}, "recognise control tokens written in the text", &parse_special);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  AMUSD_CHECK(!model_path.empty(), "missing -m MODEL.gguf");
  AMUSD_CHECK(args.given("-p") || args.given("--prompt") || !prompt_file.empty(), "missing -p TEXT or -f FILE");
  if (!prompt_file.empty()) {
    std::ifstream in(prompt_file, std::ios::binary);
    AMUSD_CHECK(in, "cannot read '", prompt_file, "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    prompt = ss.str();
  }
  auto file = gguf::File::open(model_path);
  auto tok = tok::Tokenizer::from_gguf(*file);
  const auto ids = tok->encode(prompt, !no_special, parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
    if (pieces) {
      line += ":'";
      line += tok->token_to_bytes(ids[i], /*render_special=*/true);
      line += "'";
    }
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace amusd::app
