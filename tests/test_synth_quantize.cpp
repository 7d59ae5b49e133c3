// amusd synth and amusd quantize: deterministic models that load and run, agreement-controlled pairs, quantization
// round-trip error bounds per type.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>
#include <cstring>

#include "backend/device.h"
#include "core/error.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "model/context.h"
#include "model/model.h"
#include "quantize/quantize.h"
#include "support.h"
#include "synth/synth.h"

namespace amusd {
namespace {

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("amusd-sq-" + std::to_string(getpid()) + "-" + name)).string();
}

synth::Spec small_spec() {
  synth::Spec s = synth::preset("mini");
  s.n_layer = 3;
  s.tokenizer_from = test::shared_path("models/stories260K.gguf");
  return s;
}

backend::CpuDevice& device() {
  static auto d = backend::make_cpu_device("t", "", 0);
  return *d;
}

TEST(Synth, PresetsHaveTheAdvertisedSizes) {
  EXPECT_NEAR(double(synth::count_params(synth::preset("tinyllama-1.1b"), 32000)), 1.1e9, 0.01e9);
  EXPECT_NEAR(double(synth::count_params(synth::preset("draft-68m"), 32000)), 68e6, 1e6);
  EXPECT_NEAR(double(synth::count_params(synth::preset("draft-160m"), 32000)), 162e6, 2e6);
  EXPECT_NEAR(double(synth::count_params(synth::preset("llama-3.2-1b"), 128256)), 1.24e9, 0.02e9);
  EXPECT_THROW(synth::preset("gpt-5"), Error);
}

TEST(Synth, DeterministicAndLoadable) {
  const synth::Spec s = small_spec();
  synth::write_model(s, tmp("a.gguf"));
  synth::Spec s2 = s;
  s2.n_threads = 3;  // the split among threads must not matter
  synth::write_model(s2, tmp("b.gguf"));
  EXPECT_EQ(test::read_file(tmp("a.gguf")), test::read_file(tmp("b.gguf")));
  auto m = model::Model::load(tmp("a.gguf"));
  EXPECT_EQ(m->hparams().n_layer, 3);
  model::Context ctx(*m, device());
  const auto logits = ctx.eval(std::vector<int32_t>{1, 100, 200}, model::Logits::Last);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

TEST(Synth, DraftSharesTheTargetsFirstLayers) {
  synth::Spec t = small_spec();
  t.scale_from = 1;
  t.late_scale = 0.01f;
  synth::write_model(t, tmp("t.gguf"));
  synth::write_model(synth::draft_of(t, 1), tmp("d.gguf"));
  auto ft = gguf::File::open(tmp("t.gguf")), fd = gguf::File::open(tmp("d.gguf"));
  int shared = 0;
  for (const auto& td : fd->tensors()) {
    const auto* tt = ft->find_tensor(td.name);
    ASSERT_NE(tt, nullptr) << td.name;
    ASSERT_EQ(tt->nbytes, td.nbytes);
    EXPECT_EQ(std::memcmp(tt->data, td.data, td.nbytes), 0) << td.name;
    ++shared;
  }
  EXPECT_EQ(shared, int(fd->tensors().size()));
  EXPECT_EQ(fd->get_uint("llama.block_count"), 1u);
}

TEST(Synth, ScaledLateLayersMakeTheDraftAgree) {
  // Greedy agreement of draft and target over a teacher-forced sequence grows as the late-layer scale shrinks.
  auto agreement = [&](float scale) {
    synth::Spec t = small_spec();
    t.n_layer = 4;
    t.scale_from = 1;
    t.late_scale = scale;
    synth::write_model(t, tmp("ta.gguf"));
    synth::write_model(synth::draft_of(t, 1), tmp("da.gguf"));
    auto mt = model::Model::load(tmp("ta.gguf")), md = model::Model::load(tmp("da.gguf"));
    model::Context ct(*mt, device()), cd(*md, device());
    std::vector<int32_t> seq = {1};
    for (int i = 0; i < 96; ++i) seq.push_back(int32_t(3 + (i * 37) % 500));
    const auto lt = ct.eval(seq, model::Logits::All);
    const std::vector<float> target(lt.begin(), lt.end());
    const auto ld = cd.eval(seq, model::Logits::All);
    const int64_t v = mt->hparams().n_vocab;
    int agree = 0;
    for (size_t i = 0; i < seq.size(); ++i) {
      auto am = [&](const float* p) { return std::max_element(p, p + v) - p; };
      agree += am(&target[i * v]) == am(&ld[i * v]);
    }
    return double(agree) / double(seq.size());
  };
  const double a_small = agreement(0.001f), a_mid = agreement(0.3f), a_one = agreement(1.f);
  std::printf("agreement: scale 0.001 %.2f, 0.3 %.2f, 1 %.2f\n", a_small, a_mid, a_one);
  EXPECT_GT(a_small, 0.9);
  EXPECT_GE(a_small, a_mid);
  EXPECT_GT(a_mid, a_one);
}

// Quantize an F32 model to each type; the result loads, and every matrix dequantizes close to the original.
TEST(Quantize, RoundTripErrorBoundsPerType) {
  synth::Spec s = small_spec();
  s.type = DType::F32;
  const std::string src = tmp("f32.gguf");
  synth::write_model(s, src);
  auto in = gguf::File::open(src);
  // Relative RMS error bounds of N(0, sigma) data per type (a few percent above what the formats give).
  const std::vector<std::pair<DType, double>> bounds = {
      {DType::F16, 0.0005}, {DType::BF16, 0.004}, {DType::Q8_0, 0.008}, {DType::Q6_K, 0.02}, {DType::Q5_1, 0.045},
      {DType::Q5_0, 0.05},  {DType::Q5_K, 0.04},  {DType::Q4_1, 0.09},  {DType::Q4_0, 0.1},  {DType::Q4_K, 0.08},
      {DType::Q3_K, 0.17},  {DType::Q2_K, 0.33}};
  for (const auto& [type, bound] : bounds) {
    const std::string out = tmp(std::string(dtype_name(type)) + ".gguf");
    const quantize::Summary sum = quantize::quantize_file(src, out, type, 2);
    EXPECT_GT(sum.n_converted, 0);
    auto m = model::Model::load(out);  // loads
    auto f = gguf::File::open(out);
    double worst = 0;
    for (const auto& t : f->tensors()) {
      if (t.ne.size() != 2) continue;
      EXPECT_EQ(t.type, type) << t.name;
      const auto* orig = in->find_tensor(t.name);
      std::vector<float> a(size_t(t.n_elements())), b(a.size());
      kernels::find_reference_kernels(t.type)->to_float(t.data, b.data(), int64_t(b.size()));
      std::memcpy(a.data(), orig->data, orig->nbytes);
      double err = 0, ref = 0;
      for (size_t i = 0; i < a.size(); ++i) err += (a[i] - b[i]) * (a[i] - b[i]), ref += a[i] * a[i];
      worst = std::max(worst, std::sqrt(err / ref));
    }
    std::printf("%-5s worst relative RMS error %.4f (bound %.4f)\n", std::string(dtype_name(type)).c_str(), worst,
                bound);
    EXPECT_LT(worst, bound) << dtype_name(type);
    std::filesystem::remove(out);
  }
}

TEST(Quantize, RowsTheBlockDoesNotDivideStayF16) {
  // stories260K has 172-wide feed-forward rows: Q4_K (256) cannot hold them, Q8_0 (32) cannot hold 172 either.
  const std::string out = tmp("stories-q4k.gguf");
  const quantize::Summary s = quantize::quantize_file(test::shared_path("models/stories260K.gguf"), out, DType::Q4_K);
  EXPECT_GT(s.n_fallback, 0);
  auto f = gguf::File::open(out);
  EXPECT_EQ(f->find_tensor("blk.0.ffn_down.weight")->type, DType::F16);
  auto m = model::Model::load(out);  // still loads and runs
  model::Context ctx(*m, device());
  EXPECT_EQ(ctx.eval(std::vector<int32_t>{1, 403}, model::Logits::Last).size(), 512u);
  std::filesystem::remove(out);
}

TEST(Quantize, RejectsBadRequests) {
  const std::string src = test::shared_path("models/stories260K.gguf");
  EXPECT_THROW(quantize::quantize_file(src, tmp("x.gguf"), DType::Q8_1), Error);
  EXPECT_THROW(quantize::quantize_file(src, src, DType::Q8_0), Error);
  EXPECT_THROW(quantize::quantize_file("/nonexistent.gguf", tmp("x.gguf"), DType::Q8_0), Error);
}

}  // namespace
}  // namespace amusd
