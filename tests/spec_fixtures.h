// Models, devices and helpers shared by the speculative decoding tests.
#pragma once

#include <filesystem>
#include <unistd.h>
#include <memory>
#include <string>
#include <vector>

#include "backend/device.h"
#include "backend/thread_group.h"
#include "decode/amusd.h"
#include "decode/autoregressive.h"
#include "decode/speculative.h"
#include "engine/session.h"
#include "gguf/gguf_writer.h"
#include "model/model.h"
#include "support.h"
#include "synth/synth.h"

namespace amusd::test {

inline const model::Model& load_shared(const std::string& name) {
  static std::map<std::string, std::unique_ptr<model::Model>> cache;
  auto& m = cache[name];
  if (!m) m = model::Model::load(shared_path("models/" + name + ".gguf"));
  return *m;
}

// A per-process path for a generated model (test processes run in parallel; a model stays mapped while in use).
inline std::string temp_model_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("amusd-test-" + std::to_string(getpid()) + "-" + name + ".gguf"))
      .string();
}

// A draft with random weights and the stories vocabulary: it (almost) never agrees with a trained target.
inline const model::Model& random_stories_draft() {
  static std::unique_ptr<model::Model> m = [] {
    const std::string path = temp_model_path("random-draft");
    synth::Spec spec;
    spec.n_embd = 32;
    spec.n_layer = 1;
    spec.n_head = 2;
    spec.n_head_kv = 1;
    spec.n_ff = 64;
    spec.seed = 7;
    spec.weight_std = 0.5f;
    spec.tokenizer_from = shared_path("models/stories260K.gguf");
    synth::write_model(spec, path);
    return model::Model::load(path);
  }();
  return *m;
}

// A copy of a shared model whose EOS token is `piece` (e.g. "."), so that end of generation happens often.
inline const model::Model& with_eos_piece(const std::string& name, const std::string& piece) {
  static std::map<std::string, std::unique_ptr<model::Model>> cache;
  auto& m = cache[name + "|" + piece];
  if (m) return *m;
  const model::Model& src = load_shared(name);
  const int32_t eos = src.tokenizer().find_piece(piece);
  if (eos < 0) throw std::runtime_error("no piece " + piece);
  gguf::Writer w(src.file().version(), src.file().alignment());
  for (const auto& key : src.file().keys())
    if (key == "tokenizer.ggml.eos_token_id") w.set_u32(key, uint32_t(eos));
    else if (key != "general.alignment") w.copy_kv(src.file(), key);
  for (const auto& t : src.file().tensors())
    w.add_tensor(t.name, t.type, t.ne, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  const std::string path = temp_model_path("eos-" + name);
  w.write(path);
  m = model::Model::load(path);
  return *m;
}

struct Devices {
  std::unique_ptr<backend::CpuDevice> all, first, second;
  bool two_cpus = false;
};

inline Devices& devices() {
  static Devices d = [] {
    Devices d;
    const auto cpus = backend::available_cpus();
    d.all = backend::make_cpu_device("both", "", 0);
    d.two_cpus = cpus.size() >= 2;
    d.first = backend::make_cpu_device("draft", std::to_string(cpus[0]), 1);
    if (d.two_cpus) d.second = backend::make_cpu_device("verify", std::to_string(cpus[1]), 1);
    return d;
  }();
  return d;
}

inline engine::GenerateOptions greedy(int64_t n) {
  engine::GenerateOptions o;
  o.max_new_tokens = n;
  o.sampling.temperature = 0;
  return o;
}

inline engine::Result run(decode::Strategy& s, const model::Model& target, const std::string& prompt,
                          const engine::GenerateOptions& opt) {
  engine::Session session(target.tokenizer(), s);
  return session.generate_text(prompt, opt);
}

}  // namespace amusd::test
