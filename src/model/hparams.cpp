#include "model/hparams.h"

#include <cmath>

#include "core/error.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/tensor_names.h"

namespace amusd::model {

namespace {

int64_t positive(const gguf::File& f, const std::string& key, int64_t max) {
  const int64_t v = f.get_int(key);
  AMUSD_CHECK(v > 0 && v <= max, f.path(), ": key '", key, "' = ", v, ", expected 1..", max);
  return v;
}

}  // namespace

HParams load_hparams(const gguf::File& f, const ArchSpec& spec, int64_t n_vocab) {
  using namespace names;
  const std::string_view a = spec.name;
  HParams hp;
  hp.arch = std::string(a);
  hp.n_vocab = n_vocab;
  hp.rope_style = spec.rope_style;
  hp.qkv_bias = spec.qkv_bias;
  hp.n_embd = positive(f, arch_key(a, kEmbeddingLength), 1 << 16);
  hp.n_layer = positive(f, arch_key(a, kBlockCount), 1024);
  hp.n_ff = positive(f, arch_key(a, kFeedForwardLength), 1 << 18);
  hp.n_head = positive(f, arch_key(a, kHeadCount), 1024);
  hp.n_ctx_train = f.has(arch_key(a, kContextLength)) ? positive(f, arch_key(a, kContextLength), 1 << 24) : 2048;
  hp.n_head_kv = f.has(arch_key(a, kHeadCountKv)) ? positive(f, arch_key(a, kHeadCountKv), 1024) : hp.n_head;
  AMUSD_CHECK(hp.n_head % hp.n_head_kv == 0, f.path(), ": head count ", hp.n_head, " ('",
              arch_key(a, kHeadCount), "') is not a multiple of the KV head count ", hp.n_head_kv, " ('",
              arch_key(a, kHeadCountKv), "')");
  AMUSD_CHECK(hp.n_embd % hp.n_head == 0 || f.has(arch_key(a, kKeyLength)), f.path(), ": embedding length ",
              hp.n_embd, " is not a multiple of the head count ", hp.n_head);
  hp.head_dim = f.has(arch_key(a, kKeyLength)) ? positive(f, arch_key(a, kKeyLength), 512) : hp.n_embd / hp.n_head;
  AMUSD_CHECK(hp.head_dim <= 512, f.path(), ": head size ", hp.head_dim, " is larger than the supported 512");
  if (f.has(arch_key(a, kValueLength)))
    AMUSD_CHECK(f.get_int(arch_key(a, kValueLength)) == hp.head_dim, f.path(), ": key '", arch_key(a, kValueLength),
                "' differs from the key length; amusd needs equal K and V head sizes");
  hp.n_rot = f.has(arch_key(a, kRopeDims)) ? positive(f, arch_key(a, kRopeDims), hp.head_dim) : hp.head_dim;
  AMUSD_CHECK(hp.n_rot % 2 == 0, f.path(), ": RoPE dimension count ", hp.n_rot, " is odd");
  hp.rms_eps = float(f.get_float(arch_key(a, kRmsEps)));
  AMUSD_CHECK(std::isfinite(hp.rms_eps) && hp.rms_eps > 0 && hp.rms_eps < 1, f.path(), ": RMS epsilon ", hp.rms_eps, " out of range");
  if (auto base = f.opt_float(arch_key(a, kRopeFreqBase))) hp.rope_base = float(*base);
  AMUSD_CHECK(std::isfinite(hp.rope_base) && hp.rope_base > 1, f.path(), ": RoPE base ", hp.rope_base, " out of range");
  if (auto type = f.opt_string(arch_key(a, kRopeScalingType))) {
    if (*type == "linear") {
      const double factor = f.get_float(arch_key(a, kRopeScalingFactor));
      AMUSD_CHECK(std::isfinite(factor) && factor > 0, f.path(), ": RoPE scaling factor ", factor, " out of range");
      hp.rope_freq_scale = float(1.0 / factor);
    } else {
      AMUSD_CHECK(*type == "none", f.path(), ": RoPE scaling type '", *type, "' is not supported (none, linear)");
    }
  } else if (auto scale = f.opt_float(arch_key(a, kRopeScaleLinear))) {
    AMUSD_CHECK(std::isfinite(*scale) && *scale > 0, f.path(), ": RoPE linear scale ", *scale, " out of range");
    hp.rope_freq_scale = float(1.0 / *scale);
  }
  return hp;
}

}  // namespace amusd::model
