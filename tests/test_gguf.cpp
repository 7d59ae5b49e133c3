#include <gtest/gtest.h>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "support.h"

namespace amusd {
namespace {

TEST(Gguf, ReadsStories) {
  auto f = gguf::File::open(test::shared_path("models/stories260K.gguf"));
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture"), "llama");
  EXPECT_EQ(f->get_uint("llama.block_count"), 5u);
  EXPECT_EQ(f->tensors().size(), 48u);
  const auto* t = f->find_tensor("token_embd.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(t->nbytes, 64u * 512 * 4);
}

TEST(Gguf, WriterRoundTrip) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("x.count", 7);
  w.set_f32s("x.floats", {1.5f, -2.f});
  w.set_strings("x.strings", {"a", "", "ccc"});
  std::vector<uint8_t> data(4 * 6);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i);
  w.add_tensor("t", DType::F32, {3, 2}, data);
  auto f = gguf::File::from_bytes(w.to_bytes(), "mem");
  EXPECT_EQ(f->get_uint("x.count"), 7u);
  EXPECT_EQ(gguf::File::to_f32(f->get_array("x.floats", gguf::ValueType::F32)), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(f->get_array("x.strings", gguf::ValueType::STRING).strings[2], "ccc");
  const auto* t = f->find_tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->nbytes, 24u);
  EXPECT_EQ(t->data[5], 5);
  EXPECT_THROW(f->get_string("x.count"), Error);
  EXPECT_THROW(f->get_uint("missing"), Error);
}

}  // namespace
}  // namespace amusd
