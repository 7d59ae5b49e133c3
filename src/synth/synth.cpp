#include "synth/synth.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "model/arch.h"
#include "model/tensor_names.h"
#include "sampling/rng.h"

namespace amusd::synth {

namespace {

// N(0, std) samples (Box-Muller on our portable RNG), converted to `type`.
std::vector<uint8_t> random_tensor(sampling::Rng& rng, int64_t n, float std, DType type) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    v[i] = float(r * std::cos(2 * M_PI * u2) * std);
    if (i + 1 < n) v[i + 1] = float(r * std::sin(2 * M_PI * u2) * std);
  }
  std::vector<uint8_t> out(size_t(row_bytes(type, n)));
  if (type == DType::F32) {
    std::memcpy(out.data(), v.data(), out.size());
  } else {
    auto* h = reinterpret_cast<uint16_t*>(out.data());
    for (int64_t i = 0; i < n; ++i) h[i] = type == DType::F16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  }
  return out;
}

std::vector<uint8_t> ones(int64_t n) {
  std::vector<uint8_t> out(size_t(n) * 4);
  const float one = 1.f;
  for (int64_t i = 0; i < n; ++i) std::memcpy(out.data() + 4 * i, &one, 4);
  return out;
}

}  // namespace

void write_model(const Spec& s, const std::string& path) {
  using namespace model::names;
  const model::ArchSpec* arch = model::find_arch(s.arch);
  AMUSD_CHECK(arch, "synth: unknown architecture '", s.arch, "'");
  AMUSD_CHECK(s.type == DType::F32 || s.type == DType::F16 || s.type == DType::BF16,
              "synth: matrices are written as f32, f16 or bf16 (quantize afterwards)");
  AMUSD_CHECK(s.n_embd > 0 && s.n_layer > 0 && s.n_head > 0 && s.n_head_kv > 0 && s.n_ff > 0, "synth: bad shape");
  AMUSD_CHECK(s.n_embd % s.n_head == 0 && s.n_head % s.n_head_kv == 0, "synth: heads must divide the width");
  AMUSD_CHECK(!s.tokenizer_from.empty(), "synth: a GGUF to copy the tokenizer from is required");
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

  sampling::Rng rng(s.seed);
  const int64_t hd = s.n_embd / s.n_head, q_dim = s.n_head * hd, kv_dim = s.n_head_kv * hd;
  auto matrix = [&](const std::string& name, int64_t n_in, int64_t n_out, float std) {
    w.add_tensor(name, s.type, {n_in, n_out}, random_tensor(rng, n_in * n_out, std, s.type));
  };
  auto vector = [&](const std::string& name, int64_t n) { w.add_tensor(name, DType::F32, {n}, ones(n)); };
  matrix(std::string(kTokenEmbd), s.n_embd, n_vocab, s.embd_std);
  vector(std::string(kOutputNorm), s.n_embd);
  if (!s.tied_output) matrix(std::string(kOutput), s.n_embd, n_vocab, s.weight_std);
  for (int64_t l = 0; l < s.n_layer; ++l) {
    auto b = [&](std::string_view suffix) { return block(int(l), suffix); };
    vector(b(kAttnNorm), s.n_embd);
    matrix(b(kAttnQ), s.n_embd, q_dim, s.weight_std);
    matrix(b(kAttnK), s.n_embd, kv_dim, s.weight_std);
    matrix(b(kAttnV), s.n_embd, kv_dim, s.weight_std);
    if (arch->qkv_bias) {
      w.add_tensor(b(kAttnQBias), DType::F32, {q_dim}, random_tensor(rng, q_dim, s.weight_std, DType::F32));
      w.add_tensor(b(kAttnKBias), DType::F32, {kv_dim}, random_tensor(rng, kv_dim, s.weight_std, DType::F32));
      w.add_tensor(b(kAttnVBias), DType::F32, {kv_dim}, random_tensor(rng, kv_dim, s.weight_std, DType::F32));
    }
    matrix(b(kAttnOut), q_dim, s.n_embd, s.weight_std);
    vector(b(kFfnNorm), s.n_embd);
    matrix(b(kFfnGate), s.n_embd, s.n_ff, s.weight_std);
    matrix(b(kFfnUp), s.n_embd, s.n_ff, s.weight_std);
    matrix(b(kFfnDown), s.n_ff, s.n_embd, s.weight_std);
  }
  w.write(path);
}

}  // namespace amusd::synth
