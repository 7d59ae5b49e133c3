#include "model/model.h"

#include "core/error.h"
#include "kernels/kernels.h"
#include "kernels/panels.h"
#include "model/arch.h"
#include "model/tensor_names.h"

namespace amusd::model {

namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Finds a tensor and checks its shape; returns nullptr only when optional and absent.
const gguf::TensorInfo* find_checked(const gguf::File& f, const std::string& name, const std::vector<int64_t>& ne,
                                     bool required = true) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (!t) {
    AMUSD_CHECK(!required, f.path(), ": required tensor '", name, "' (shape ", shape_str(ne), ") is missing");
    return nullptr;
  }
  AMUSD_CHECK(t->ne == ne, f.path(), ": tensor '", name, "' has shape ", t->shape_str(), ", expected ", shape_str(ne));
  return t;
}

Weight load_matrix(const gguf::File& f, const std::string& name, int64_t n_in, int64_t n_out) {
  const gguf::TensorInfo* t = find_checked(f, name, {n_in, n_out});
  const kernels::TypeKernels* k = kernels::find_kernels(t->type, kernels::Isa::Scalar);
  AMUSD_CHECK(k && k->vec_dot, f.path(), ": tensor '", name, "' has type ", dtype_name(t->type),
              ", which amusd cannot compute with (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, "
              "q2_K, q3_K, q4_K, q5_K, q6_K)");
  return Weight{name, t->type, n_in, n_out, t->data, size_t(row_bytes(t->type, n_in))};
}

// A vector (norm weight, bias) converted to f32.
std::vector<float> load_vector(const gguf::File& f, const std::string& name, int64_t n, bool required = true) {
  const gguf::TensorInfo* t = find_checked(f, name, {n}, required);
  if (!t) return {};
  const kernels::TypeKernels* k = kernels::find_kernels(t->type, kernels::Isa::Scalar);
  AMUSD_CHECK(k && k->to_float, f.path(), ": tensor '", name, "' has unsupported type ", dtype_name(t->type));
  std::vector<float> out(n);
  k->to_float(t->data, out.data(), n);
  return out;
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  using namespace names;
  std::unique_ptr<Model> m(new Model());
  m->file_ = gguf::File::open(path);
  const gguf::File& f = *m->file_;

  const std::string arch(f.get_string(kArchitecture));
  const ArchSpec* spec = find_arch(arch);
  AMUSD_CHECK(spec, path, ": architecture '", arch, "' is not supported (supported: ", supported_arch_names(), ")");

  m->tokenizer_ = tok::Tokenizer::from_gguf(f);
  const gguf::TensorInfo* embd = f.find_tensor(kTokenEmbd);
  AMUSD_CHECK(embd, path, ": required tensor '", kTokenEmbd, "' is missing");
  AMUSD_CHECK(embd->ne.size() == 2, path, ": tensor '", kTokenEmbd, "' has shape ", embd->shape_str(),
              ", expected [n_embd, n_vocab]");
  const int64_t n_vocab = embd->ne[1];
  AMUSD_CHECK(n_vocab == m->tokenizer_->n_vocab(), path, ": tensor '", kTokenEmbd, "' has ", n_vocab,
              " rows but the vocabulary has ", m->tokenizer_->n_vocab(), " tokens");
  m->hp_ = load_hparams(f, *spec, n_vocab);
  const HParams& hp = m->hp_;

  m->tok_embd_ = load_matrix(f, std::string(kTokenEmbd), hp.n_embd, n_vocab);
  const auto* embd_k = kernels::find_kernels(m->tok_embd_.type, kernels::Isa::Scalar);
  AMUSD_CHECK(embd_k && embd_k->to_float, path, ": token embedding type ", dtype_name(m->tok_embd_.type),
              " cannot be dequantized");
  m->output_norm_ = load_vector(f, std::string(kOutputNorm), hp.n_embd);
  if (f.find_tensor(kOutput)) {
    m->output_ = load_matrix(f, std::string(kOutput), hp.n_embd, n_vocab);
  } else {
    m->output_ = m->tok_embd_;
    m->tied_output_ = true;
  }
  m->rope_freqs_ = load_vector(f, std::string(kRopeFreqs), hp.n_rot / 2, /*required=*/false);

  m->layers_.resize(hp.n_layer);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    Layer& L = m->layers_[i];
    auto b = [&](std::string_view s) { return block(int(i), s); };
    L.attn_norm = load_vector(f, b(kAttnNorm), hp.n_embd);
    L.wq = load_matrix(f, b(kAttnQ), hp.n_embd, hp.q_dim());
    L.wk = load_matrix(f, b(kAttnK), hp.n_embd, hp.kv_dim());
    L.wv = load_matrix(f, b(kAttnV), hp.n_embd, hp.kv_dim());
    L.wo = load_matrix(f, b(kAttnOut), hp.q_dim(), hp.n_embd);
    L.bq = load_vector(f, b(kAttnQBias), hp.q_dim(), hp.qkv_bias);
    L.bk = load_vector(f, b(kAttnKBias), hp.kv_dim(), hp.qkv_bias);
    L.bv = load_vector(f, b(kAttnVBias), hp.kv_dim(), hp.qkv_bias);
    L.ffn_norm = load_vector(f, b(kFfnNorm), hp.n_embd);
    L.w_gate = load_matrix(f, b(kFfnGate), hp.n_embd, hp.n_ff);
    L.w_up = load_matrix(f, b(kFfnUp), hp.n_embd, hp.n_ff);
    L.w_down = load_matrix(f, b(kFfnDown), hp.n_ff, hp.n_embd);
  }
  if (!options.keep_row_major && kernels::amx_usable()) m->repack_for_amx();
  return m;
}

void Model::repack_for_amx() {
  std::vector<Weight*> weights;
  for (Layer& L : layers_)
    for (Weight* w : L.matrices()) weights.push_back(w);
  weights.push_back(&output_);
  for (Weight* w : weights) {
    if (!kernels::has_panels(w->type) || w->n_out % kernels::kPanelRows != 0) continue;
    const size_t bytes = w->row_bytes * size_t(w->n_out);
    std::vector<uint8_t>& dst = packed_.emplace_back(bytes);
    kernels::repack_panels(w->type, w->data, w->row_bytes, w->n_out, w->n_in, dst.data());
    // The mapped original is not read again (unless it is also the token embedding): let the kernel drop its pages
    // from this process, so the model is not resident twice.
    if (!(tied_output_ && w == &output_)) file_->release(w->data, bytes);
    w->data = dst.data();
    w->panels = true;
  }
}

uint64_t Model::n_params() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += uint64_t(t.n_elements());
  return n;
}

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.nbytes;
  return n;
}

uint64_t Model::bytes_per_token() const {
  // Every matrix is read once per token except the embedding table, of which one row is read.
  uint64_t n = 0;
  for (const Layer& L : layers_)
    for (const Weight* w : L.matrices()) n += w->row_bytes * w->n_out;
  n += output_.row_bytes * output_.n_out + tok_embd_.row_bytes;
  return n;
}

}  // namespace amusd::model
