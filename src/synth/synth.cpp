#include "synth/synth.h"

#include <cmath>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "kernels/kernels.h"
#include "model/arch.h"
#include "model/tensor_names.h"
#include "sampling/rng.h"

namespace amusd::synth {

// ---------------------------------------------------------------------------------------------------------
// Presets

namespace {

struct Shape {
  const char* name;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff;
  float rope_base;
  bool tied;
};

// tinyllama-1.1b: TinyLlama 1.1B. llama-3.2-1b: its shape with GQA 32/8 and tied embeddings. draft-68m and
// draft-160m: the shapes of the llama-68m / llama-160m drafts (12 heads of 64). mini: ../shared's mini-target.
constexpr Shape kShapes[] = {
    {"tinyllama-1.1b", 2048, 22, 32, 4, 5632, 10000.f, false},
    {"llama-3.2-1b", 2048, 16, 32, 8, 8192, 500000.f, true},
    {"draft-68m", 768, 2, 12, 12, 3072, 10000.f, false},
    {"draft-160m", 768, 12, 12, 12, 3072, 10000.f, false},
    {"mini", 256, 6, 4, 2, 768, 10000.f, false},
};

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

Spec preset(const std::string& name) {
  for (const Shape& s : kShapes) {
    if (name != s.name) continue;
    Spec spec;
    spec.name = "synth-" + name;
    spec.n_embd = s.n_embd;
    spec.n_layer = s.n_layer;
    spec.n_head = s.n_head;
    spec.n_head_kv = s.n_head_kv;
    spec.n_ff = s.n_ff;
    spec.rope_base = s.rope_base;
    spec.tied_output = s.tied;
    return spec;
  }
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown synth preset '", name, "' (known: ", known, ")");
}

std::vector<std::string> preset_names() {
  std::vector<std::string> out;
  for (const Shape& s : kShapes) out.push_back(s.name);
  return out;
}

Spec draft_of(const Spec& target, int64_t layers) {
  AMUSD_CHECK(layers >= 1 && layers <= target.n_layer, "draft layers must be in 1..", target.n_layer, ", got ",
              layers);
  Spec d = target;
  d.name = target.name + "-draft" + std::to_string(layers) + "L";
  d.n_layer = layers;
  return d;
}

int64_t count_params(const Spec& s, int64_t n_vocab) {
  const int64_t hd = s.n_embd / s.n_head, q = s.n_head * hd, kv = s.n_head_kv * hd;
  int64_t per_layer = 2 * s.n_embd + s.n_embd * (q + 2 * kv) + q * s.n_embd + 3 * s.n_embd * s.n_ff;
  if (model::find_arch(s.arch) && model::find_arch(s.arch)->qkv_bias) per_layer += q + 2 * kv;
  return n_vocab * s.n_embd * (s.tied_output ? 1 : 2) + s.n_embd + s.n_layer * per_layer;
}

// ---------------------------------------------------------------------------------------------------------
// Writing

namespace {

// Fills rows [r0, r1) of a matrix with N(0, std) * scale values converted to `type`. Row r draws from its own stream,
// so the result does not depend on how rows are split among threads.
void fill_rows(uint64_t stream, int64_t n, int64_t r0, int64_t r1, float std, DType type, uint8_t* dst) {
  std::vector<float> row(n);
  const auto& k = *kernels::find_reference_kernels(type);
  const size_t rb = size_t(row_bytes(type, n));
  for (int64_t r = r0; r < r1; ++r) {
    sampling::Rng rng(stream ^ (uint64_t(r) * 0x9e3779b97f4a7c15ULL));
    for (int64_t i = 0; i < n; i += 2) {
      const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
      const double rad = std::sqrt(-2.0 * std::log(u1));
      row[i] = float(rad * std::cos(2 * M_PI * u2) * std);
      if (i + 1 < n) row[i + 1] = float(rad * std::sin(2 * M_PI * u2) * std);
    }
    k.from_float(row.data(), dst + r * rb, n);
  }
}

}  // namespace

void write_model(const Spec& s, const std::string& path) {
  using namespace model::names;
  const model::ArchSpec* arch = model::find_arch(s.arch);
  AMUSD_CHECK(arch, "synth: unknown architecture '", s.arch, "' (supported: ", model::supported_arch_names(), ")");
  const kernels::TypeKernels* tk = kernels::find_reference_kernels(s.type);
  AMUSD_CHECK(tk && tk->from_float && tk->vec_dot, "synth: amusd cannot write matrices of type ", dtype_name(s.type));
  AMUSD_CHECK(s.n_embd > 0 && s.n_layer > 0 && s.n_head > 0 && s.n_head_kv > 0 && s.n_ff > 0, "synth: bad shape");
  AMUSD_CHECK(s.n_embd % s.n_head == 0 && s.n_head % s.n_head_kv == 0, "synth: heads must divide the width");
  AMUSD_CHECK(s.scale_from >= 0 && std::isfinite(s.late_scale), "synth: bad late-layer scale");
  AMUSD_CHECK(!s.tokenizer_from.empty(), "synth: a GGUF to copy the tokenizer from is required (--vocab FILE)");
  auto tok = gguf::File::open(s.tokenizer_from);
  const int64_t n_vocab = int64_t(tok->get_array("tokenizer.ggml.tokens", gguf::ValueType::STRING).count);

  gguf::Writer w;
  const std::string a = s.arch;
  w.set_string(std::string(kArchitecture), a);
  w.set_string(std::string(kName), s.name);
  w.set_u32(arch_key(a, kContextLength), uint32_t(s.n_ctx));
  w.set_u32(arch_key(a, kEmbeddingLength), uint32_t(s.n_embd));
  w.set_u32(arch_key(a, kBlockCount), uint32_t(s.n_layer));
  w.set_u32(arch_key(a, kFeedForwardLength), uint32_t(s.n_ff));
  w.set_u32(arch_key(a, kHeadCount), uint32_t(s.n_head));
  w.set_u32(arch_key(a, kHeadCountKv), uint32_t(s.n_head_kv));
  w.set_u32(arch_key(a, kRopeDims), uint32_t(s.n_embd / s.n_head));
  w.set_f32(arch_key(a, kRmsEps), s.rms_eps);
  w.set_f32(arch_key(a, kRopeFreqBase), s.rope_base);
  for (const auto& key : tok->keys())
    if (key.rfind("tokenizer.", 0) == 0) w.copy_kv(*tok, key);

  const int n_threads = std::max(1, s.n_threads);
  // A random tensor of n_out rows of n_in values (a vector when n_out is 0).
  auto random = [&](const std::string& name, int64_t n_in, int64_t n_out, float std, DType type) {
    const uint64_t stream = s.seed ^ fnv1a(name);
    std::vector<int64_t> ne = n_out > 0 ? std::vector<int64_t>{n_in, n_out} : std::vector<int64_t>{n_in};
    n_out = std::max<int64_t>(n_out, 1);
    w.add_tensor(name, type, ne, [=](uint8_t* dst, uint64_t) {
      std::vector<std::thread> threads;
      for (int t = 0; t < n_threads; ++t) {
        const int64_t r0 = n_out * t / n_threads, r1 = n_out * (t + 1) / n_threads;
        threads.emplace_back(fill_rows, stream, n_in, r0, r1, std, type, dst);
      }
      for (auto& th : threads) th.join();
    });
  };
  auto ones = [&](const std::string& name, int64_t n) {
    std::vector<uint8_t> v(size_t(n) * 4);
    const float one = 1.f;
    for (int64_t i = 0; i < n; ++i) std::memcpy(v.data() + 4 * i, &one, 4);
    w.add_tensor(name, DType::F32, {n}, std::move(v));
  };
  // Matrices whose rows the type's blocks do not divide stay F16 (as common quantizers do).
  auto type_for = [&](int64_t n_in) { return n_in % info(s.type).block_size == 0 ? s.type : DType::F16; };

  const int64_t hd = s.n_embd / s.n_head, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  random(std::string(kTokenEmbd), s.n_embd, n_vocab, s.embd_std, type_for(s.n_embd));
  ones(std::string(kOutputNorm), s.n_embd);
  if (!s.tied_output) random(std::string(kOutput), s.n_embd, n_vocab, s.weight_std, type_for(s.n_embd));
  for (int64_t l = 0; l < s.n_layer; ++l) {
    auto b = [&](std::string_view suffix) { return block(int(l), suffix); };
    const float out_std = s.weight_std * (l >= s.scale_from ? s.late_scale : 1.f);
    ones(b(kAttnNorm), s.n_embd);
    random(b(kAttnQ), s.n_embd, q_dim, s.weight_std, type_for(s.n_embd));
    random(b(kAttnK), s.n_embd, kv_dim, s.weight_std, type_for(s.n_embd));
    random(b(kAttnV), s.n_embd, kv_dim, s.weight_std, type_for(s.n_embd));
    if (arch->qkv_bias) {
      random(b(kAttnQBias), q_dim, 0, s.weight_std, DType::F32);
      random(b(kAttnKBias), kv_dim, 0, s.weight_std, DType::F32);
      random(b(kAttnVBias), kv_dim, 0, s.weight_std, DType::F32);
    }
    random(b(kAttnOut), q_dim, s.n_embd, out_std, type_for(q_dim));
    ones(b(kFfnNorm), s.n_embd);
    random(b(kFfnGate), s.n_embd, s.n_ff, s.weight_std, type_for(s.n_embd));
    random(b(kFfnUp), s.n_embd, s.n_ff, s.weight_std, type_for(s.n_embd));
    random(b(kFfnDown), s.n_ff, s.n_embd, out_std, type_for(s.n_ff));
  }
  w.write(path);
}

}  // namespace amusd::synth
