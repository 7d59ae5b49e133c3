// amusd generate: streams a model's continuation of a prompt to stdout with the chosen strategy (ar, sd, amusd);
// speed and statistics go to stderr, optionally a JSON file with the timeline.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "args.h"
#include "commands.h"
#include "engine_args.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/session.h"

namespace amusd::app {

namespace {

// Writes text to stdout as soon as it is final.
class StdoutStreamer final : public engine::Streamer {
 public:
  void on_text(std::string_view s) override {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  AMUSD_CHECK(in, "cannot read prompt file '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int cmd_generate(int argc, char** argv) {
  engine::EngineOptions eo;
  std::string prompt, prompt_file, kv_type = "f16", strategy = "ar", stats_json;
  int64_t n_predict = 128;
  uint64_t seed = 0;
  bool ignore_eos = false, quiet = false;
  std::vector<std::string> stop;
  sampling::SamplerParams sp;

  ArgParser args("amusd generate -m MODEL.gguf [-md DRAFT.gguf --strategy ar|sd|amusd] (-p PROMPT | -f FILE) [options]",
                 "Streams the model's continuation of the prompt to stdout; speed and statistics go to stderr.\n"
                 "At temperature 0 every strategy prints exactly the tokens of `ar`.");
  args.option({"-m", "--model"}, "FILE", "target model (GGUF)", &eo.target_path);
  args.option({"-md", "--model-draft"}, "FILE", "draft model (GGUF) for sd and amusd", &eo.draft_path);
  args.option({"--strategy"}, "NAME", "ar (default), sd (synchronous speculative) or amusd (asynchronous)", &strategy);
  args.option({"-p", "--prompt"}, "TEXT", "prompt", &prompt);
  args.option({"-f", "--file"}, "FILE", "read the prompt from a file", &prompt_file);
  args.option({"-n", "--n-predict"}, "N", "tokens to generate (default 128; -1 = until end of generation)", &n_predict);
  add_engine_options(args, eo, kv_type);
  args.option({"--temp"}, "T", "temperature (default 0.8; 0 = greedy)", &sp.temperature);
  args.option({"--top-k"}, "K", "top-k sampling (default 40; 0 = off)", &sp.top_k);
  args.option({"--top-p"}, "P", "top-p sampling (default 0.95; 1 = off)", &sp.top_p);
  args.option({"--min-p"}, "P", "min-p sampling (default 0.05; 0 = off)", &sp.min_p);
  args.option({"-s", "--seed"}, "N", "random seed (default: random)", &seed);
  args.option({"--stop"}, "TEXT", "stop when TEXT is generated (repeatable)", &stop);
  args.flag({"--ignore-eos"}, "do not stop at end-of-generation tokens", &ignore_eos);
  args.option({"--stats-json"}, "FILE", "write statistics and the timeline of every step as JSON", &stats_json);
  args.flag({"-q", "--quiet"}, "print only the generated text", &quiet);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  AMUSD_CHECK(!eo.target_path.empty(), "missing -m MODEL.gguf (see --help)");
  AMUSD_CHECK(engine::is_strategy_name(strategy), "unknown strategy '", strategy, "' (choose ar, sd or amusd)");
  AMUSD_CHECK(strategy == "ar" || !eo.draft_path.empty(), "--strategy ", strategy, " needs a draft model (-md FILE)");
  const bool has_prompt = args.given("-p") || args.given("--prompt");
  AMUSD_CHECK(has_prompt != !prompt_file.empty(), "give exactly one of -p PROMPT and -f FILE");
  if (!prompt_file.empty()) prompt = read_text_file(prompt_file);
  AMUSD_CHECK(n_predict >= -1, "-n must be >= -1, got ", n_predict);
  finish_engine_options(kv_type, eo);
  sp.seed = (args.given("-s") || args.given("--seed")) ? seed : std::random_device{}();
  sampling::validate(sp);

  engine::Engine engine(eo);
  decode::Strategy& strat = engine.strategy(strategy);
  engine::Session session(engine.target().tokenizer(), strat);
  engine::GenerateOptions opt;
  opt.max_new_tokens = n_predict < 0 ? INT64_MAX : n_predict;
  opt.sampling = sp;
  opt.stop = stop;
  opt.ignore_eos = ignore_eos;
  StdoutStreamer out;
  const engine::Result r = session.generate_text(prompt, opt, &out);
  std::printf("\n");
  std::fflush(stdout);

  const decode::Stats& s = r.stats;
  if (!quiet) {
    std::fprintf(stderr, "\n%s | %s\n", engine.describe(strategy).c_str(), eo.target_path.c_str());
    if (!sp.greedy()) std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(sp.seed));
    std::fprintf(stderr, "prompt:     %5lld tokens in %9.2f ms (%9.2f tokens/s)\n", static_cast<long long>(s.n_prompt),
                 s.prefill_ms, s.prefill_ms > 0 ? 1000.0 * double(s.n_prompt) / s.prefill_ms : 0.0);
    std::fprintf(stderr, "generation: %5lld tokens in %9.2f ms (%9.2f tokens/s, %.3f ms/token), stop: %s\n",
                 static_cast<long long>(s.n_generated), s.generate_ms, s.tokens_per_second(), s.ms_per_token(),
                 std::string(engine::stop_reason_name(r.reason)).c_str());
    std::fprintf(stderr, "%s", decode::format_stats(s).c_str());
  }
  if (!stats_json.empty()) {
    nlohmann::json j = decode::stats_to_json(s);
    j["stop_reason"] = engine::stop_reason_name(r.reason);
    j["prompt"] = prompt;
    j["text"] = r.text;
    j["tokens"] = r.tokens;
    j["devices_described"] = engine.describe(strategy);
    std::ofstream f(stats_json);
    AMUSD_CHECK(f, "cannot write '", stats_json, "'");
    // Generated text may hold invalid UTF-8 (a model can emit half a character): replace such bytes.
    f << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

}  // namespace amusd::app
