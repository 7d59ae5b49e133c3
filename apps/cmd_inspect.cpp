// amusd inspect MODEL.gguf: metadata (architecture, hyperparameters, tokenizer, chat template), the tensor table,
// and totals. Works on any valid GGUF, including vocabulary-only files.
#include <cstdio>
#include <map>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "gguf/gguf.h"

namespace amusd::app {

namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string human_count(double n) {
  const char* units[] = {"", "K", "M", "B", "T"};
  int u = 0;
  while (n >= 1000 && u < 4) n /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", n, units[u]);
  return buf;
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  std::string path;
  bool all_values = false;
  ArgParser args("amusd inspect MODEL.gguf [--full]",
                 "Prints a GGUF file's metadata and tensor table, with the total parameter count and size.");
  args.positional("MODEL.gguf", "the file to inspect", &path);
  args.flag({"--full"}, "print long arrays and strings in full", &all_values);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  auto f = gguf::File::open(path);
  const size_t max_items = all_values ? SIZE_MAX : 8;

  std::printf("file:          %s\n", path.c_str());
  std::printf("format:        GGUF v%u, %zu metadata keys, %zu tensors, alignment %u, %s\n", f->version(),
              f->keys().size(), f->tensors().size(), f->alignment(), human_bytes(double(f->file_size())).c_str());
  const std::string arch(f->opt_string("general.architecture").value_or("(none)"));
  std::printf("architecture:  %s\n", arch.c_str());
  if (auto name = f->opt_string("general.name")) std::printf("name:          %.*s\n", int(name->size()), name->data());

  std::printf("\nhyperparameters:\n");
  for (const auto& k : f->keys())
    if (k.rfind(arch + ".", 0) == 0)
      std::printf("  %-44s %s\n", k.c_str(), f->value_to_string(*f->find(k), max_items).c_str());

  std::printf("\ntokenizer:\n");
  if (auto model = f->opt_string("tokenizer.ggml.model")) {
    std::printf("  %-44s %.*s\n", "model", int(model->size()), model->data());
    if (const auto* tokens = f->opt_array("tokenizer.ggml.tokens", gguf::ValueType::STRING))
      std::printf("  %-44s %llu\n", "tokens", static_cast<unsigned long long>(tokens->count));
    if (const auto* merges = f->opt_array("tokenizer.ggml.merges", gguf::ValueType::STRING))
      std::printf("  %-44s %llu\n", "merges", static_cast<unsigned long long>(merges->count));
    for (const auto& k : f->keys())
      if (k.rfind("tokenizer.ggml.", 0) == 0 && k != "tokenizer.ggml.tokens" && k != "tokenizer.ggml.merges" &&
          k != "tokenizer.ggml.scores" && k != "tokenizer.ggml.token_type" && k != "tokenizer.ggml.model")
        std::printf("  %-44s %s\n", k.substr(15).c_str(), f->value_to_string(*f->find(k), max_items).c_str());
  } else {
    std::printf("  (none)\n");
  }
  if (auto tmpl = f->opt_string("tokenizer.chat_template"))
    std::printf("  %-44s present (%zu bytes)\n", "chat template", tmpl->size());
  else
    std::printf("  %-44s absent\n", "chat template");

  std::printf("\nother metadata:\n");
  for (const auto& k : f->keys())
    if (k.rfind(arch + ".", 0) != 0 && k.rfind("tokenizer.", 0) != 0)
      std::printf("  %-44s %s\n", k.c_str(), f->value_to_string(*f->find(k), max_items).c_str());

  std::printf("\ntensors:\n  %-40s %-24s %-6s %12s\n", "name", "shape", "type", "bytes");
  uint64_t n_params = 0, n_bytes = 0;
  std::map<std::string, int> by_type;
  for (const auto& t : f->tensors()) {
    std::printf("  %-40s %-24s %-6s %12llu\n", t.name.c_str(), t.shape_str().c_str(),
                std::string(dtype_name(t.type)).c_str(), static_cast<unsigned long long>(t.nbytes));
    n_params += uint64_t(t.n_elements());
    n_bytes += t.nbytes;
    by_type[std::string(dtype_name(t.type))]++;
  }
  std::string types;
  for (const auto& [name, count] : by_type) types += (types.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  std::printf("\ntotal: %llu parameters (%s), %s of tensor data (%.2f bits per parameter); types: %s\n",
              static_cast<unsigned long long>(n_params), human_count(double(n_params)).c_str(),
              human_bytes(double(n_bytes)).c_str(), n_params ? 8.0 * double(n_bytes) / double(n_params) : 0.0,
              types.empty() ? "none" : types.c_str());
  return 0;
}

}  // namespace amusd::app
