// amusd synth / amusd quantize: write synthetic models and re-encode models in another type.
#include <chrono>
#include <cstdio>
#include <thread>

#include "args.h"
#include "commands.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "quantize/quantize.h"
#include "synth/synth.h"

namespace amusd::app {

namespace {

DType parse_type(const std::string& name) {
  const auto t = dtype_from_name(name);
  AMUSD_CHECK(t && quantize::can_write(*t), "unknown or unsupported type '", name,
              "' (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K)");
  return *t;
}

int default_threads() { return std::max(1, int(std::thread::hardware_concurrency())); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int cmd_synth(int argc, char** argv) {
  std::string preset = "mini", vocab, out, draft_out, type = "f16", arch;
  int64_t draft_layers = 2;
  float late_scale = 1.f;
  bool tied = false;
  int32_t threads = default_threads();
  synth::Spec over;  // shape overrides (0 = from the preset)
  over.n_embd = over.n_layer = over.n_head = over.n_head_kv = over.n_ff = 0;
  ArgParser args(
      "amusd synth --preset NAME --vocab VOCAB.gguf -o OUT.gguf [--draft-out DRAFT.gguf --late-scale F] [options]",
      "Writes a deterministic random-weight model (llama or qwen2 architecture) with the tokenizer of VOCAB.gguf.\n"
      "With --draft-out it writes an agreement-controlled pair: the target's layers from --draft-layers on have their\n"
      "output projections scaled by --late-scale, and the draft is the target's first --draft-layers layers with the\n"
      "same embedding and head (the smaller the scale, the more often the draft's greedy choice is the target's).");
  args.option({"--preset"}, "NAME", "tinyllama-1.1b, llama-3.2-1b, draft-68m, draft-160m, mini (default)", &preset);
  args.option({"--vocab"}, "FILE", "GGUF whose tokenizer is copied (required)", &vocab);
  args.option({"-o", "--out"}, "FILE", "output model", &out);
  args.option({"--type"}, "TYPE", "matrix type (default f16)", &type);
  args.option({"--arch"}, "NAME", "llama (default) or qwen2", &arch);
  args.option({"--seed"}, "N", "random seed (default 1)", &over.seed);
  args.option({"--n-embd"}, "N", "override the width", &over.n_embd);
  args.option({"--n-layer"}, "N", "override the layer count", &over.n_layer);
  args.option({"--n-head"}, "N", "override the head count", &over.n_head);
  args.option({"--n-head-kv"}, "N", "override the KV head count", &over.n_head_kv);
  args.option({"--n-ff"}, "N", "override the feed-forward width", &over.n_ff);
  args.flag({"--tied"}, "tie the output to the token embedding", &tied);
  args.option({"--weight-std"}, "S", "std of the matrices (default 0.02)", &over.weight_std);
  args.option({"--embd-std"}, "S", "std of the token embedding (default 0.12)", &over.embd_std);
  args.option({"--draft-out"}, "FILE", "also write the matching draft", &draft_out);
  args.option({"--draft-layers"}, "K", "layers of the draft (default 2)", &draft_layers);
  args.option({"--late-scale"}, "F", "scale of the target's output projections from layer K on (default 1)",
              &late_scale);
  args.option({"-t", "--threads"}, "N", "threads (default: all)", &threads);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  AMUSD_CHECK(!out.empty(), "missing -o OUT.gguf");
  AMUSD_CHECK(!vocab.empty(), "missing --vocab FILE (a GGUF to copy the tokenizer from)");
  AMUSD_CHECK(threads >= 1 && threads <= 256, "--threads must be in 1..256");
  synth::Spec spec = synth::preset(preset);
  spec.tokenizer_from = vocab;
  spec.type = parse_type(type);
  spec.seed = over.seed;
  spec.weight_std = over.weight_std;
  spec.embd_std = over.embd_std;
  spec.n_threads = threads;
  if (!arch.empty()) spec.arch = arch;
  if (tied) spec.tied_output = true;
  for (auto [dst, src] : {std::pair{&spec.n_embd, over.n_embd}, {&spec.n_layer, over.n_layer},
                          {&spec.n_head, over.n_head}, {&spec.n_head_kv, over.n_head_kv}, {&spec.n_ff, over.n_ff}})
    if (src != 0) *dst = src;
  AMUSD_CHECK(spec.weight_std > 0 && spec.embd_std > 0, "standard deviations must be positive");
  if (!draft_out.empty()) {
    AMUSD_CHECK(draft_layers >= 1 && draft_layers < spec.n_layer, "--draft-layers must be in 1..", spec.n_layer - 1);
    spec.scale_from = draft_layers;
    spec.late_scale = late_scale;
  } else {
    AMUSD_CHECK(late_scale == 1.f, "--late-scale needs --draft-out");
  }

  const int64_t n_vocab =
      int64_t(gguf::File::open(vocab)->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING).count);
  auto t0 = std::chrono::steady_clock::now();
  synth::write_model(spec, out);
  std::fprintf(stderr, "wrote %s: %s, %.1fM parameters, %s, in %.1f s\n", out.c_str(), spec.name.c_str(),
               double(synth::count_params(spec, n_vocab)) / 1e6, type.c_str(), seconds_since(t0));
  if (!draft_out.empty()) {
    const synth::Spec d = synth::draft_of(spec, draft_layers);
    t0 = std::chrono::steady_clock::now();
    synth::write_model(d, draft_out);
    std::fprintf(stderr, "wrote %s: %s, %.1fM parameters, %s, in %.1f s\n", draft_out.c_str(), d.name.c_str(),
                 double(synth::count_params(d, n_vocab)) / 1e6, type.c_str(), seconds_since(t0));
  }
  return 0;
}

int cmd_quantize(int argc, char** argv) {
  std::string in, out, type;
  int32_t threads = default_threads();
  ArgParser args("amusd quantize IN.gguf OUT.gguf TYPE [--threads N]",
                 "Re-encodes every matrix of IN in TYPE (from f32, f16, bf16 or any type amusd reads). Norms and "
                 "biases keep\ntheir type; matrices whose rows TYPE's blocks do not divide are stored as f16.");
  args.positional("IN.gguf", "model to read", &in);
  args.positional("OUT.gguf", "model to write", &out);
  args.positional("TYPE", "q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, f16, bf16, f32", &type);
  args.option({"-t", "--threads"}, "N", "threads (default: all)", &threads);
  if (!args.parse(argc, argv, 2)) {
    std::fputs(args.help().c_str(), stdout);
    return 0;
  }
  AMUSD_CHECK(threads >= 1 && threads <= 256, "--threads must be in 1..256");
  const DType t = parse_type(type);
  const auto t0 = std::chrono::steady_clock::now();
  const quantize::Summary s = quantize::quantize_file(in, out, t, threads);
  std::fprintf(stderr, "wrote %s: %d matrices as %s, %d as f16 (rows not divisible), %d tensors copied; "
               "%.1f MiB -> %.1f MiB in %.1f s\n", out.c_str(), s.n_converted, std::string(dtype_name(t)).c_str(),
               s.n_fallback, s.n_copied, double(s.bytes_in) / (1 << 20), double(s.bytes_out) / (1 << 20),
               seconds_since(t0));
  return 0;
}

}  // namespace amusd::app
