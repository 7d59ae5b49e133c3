// The asynchronous strategy under stress: cancellation from another thread, many generations back to back,
// context overflow. These tests also run under ThreadSanitizer (make test-tsan).
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "spec_fixtures.h"

namespace amusd {
namespace {

using test::devices;
using test::greedy;
using test::load_shared;
using test::run;

class AmusdConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!devices().two_cpus) GTEST_SKIP() << "amusd needs two CPUs";
  }
};

TEST_F(AmusdConcurrency, CancelMidwayReturnsPromptly) {
  const auto& target = load_shared("mini-target-q8_0");
  decode::Amusd amusd(target, *devices().second, load_shared("mini-draft-q8_0"), *devices().first, {}, {8});
  for (int delay_ms : {0, 1, 5, 30}) {
    std::stop_source stop;
    engine::GenerateOptions opt = greedy(1000000);
    opt.ignore_eos = true;
    engine::Session session(target.tokenizer(), amusd);
    auto fut = std::async(std::launch::async, [&] { return session.generate_text("Once upon a time", opt, nullptr, stop.get_token()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    const auto t0 = std::chrono::steady_clock::now();
    stop.request_stop();
    ASSERT_EQ(fut.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "cancel did not return";
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const engine::Result r = fut.get();
    EXPECT_EQ(r.reason, engine::StopReason::Cancelled) << "delay " << delay_ms;
    std::printf("cancel after %d ms: returned %.2f ms after the request, %zu tokens\n", delay_ms, ms, r.tokens.size());
  }
}

TEST_F(AmusdConcurrency, ContextFullStopsCleanly) {
  const auto& target = load_shared("stories260K");
  const auto& draft = load_shared("stories260K-draft");
  model::ContextOptions small;
  small.n_ctx = 48;
  decode::Autoregressive ar(target, *devices().all, small);
  decode::SpeculativeSync sd(target, draft, *devices().all, small, {8});
  decode::Amusd amusd(target, *devices().second, draft, *devices().first, small, {8});
  engine::GenerateOptions opt = greedy(1000);
  opt.ignore_eos = true;
  const engine::Result expected = run(ar, target, "Once upon a time", opt);
  EXPECT_EQ(expected.reason, engine::StopReason::ContextFull);
  for (decode::Strategy* s : std::initializer_list<decode::Strategy*>{&sd, &amusd}) {
    const engine::Result r = run(*s, target, "Once upon a time", opt);
    EXPECT_EQ(r.reason, engine::StopReason::ContextFull) << s->name();
    EXPECT_EQ(r.tokens, expected.tokens) << s->name();
  }
}

TEST_F(AmusdConcurrency, StressManyShortGenerations) {
  const auto& target = load_shared("stories260K");
  const auto& draft = load_shared("stories260K-draft");
  decode::Autoregressive ar(target, *devices().all);
  std::vector<std::unique_ptr<decode::Amusd>> variants;
  variants.push_back(std::make_unique<decode::Amusd>(target, *devices().second, draft, *devices().first,
                                                     model::ContextOptions{}, decode::SpecOptions{8}));
  variants.push_back(std::make_unique<decode::Amusd>(target, *devices().first, draft, *devices().second,
                                                     model::ContextOptions{}, decode::SpecOptions{3, false, 0, 4}));
  variants.push_back(std::make_unique<decode::Amusd>(target, *devices().second, test::random_stories_draft(),
                                                     *devices().first, model::ContextOptions{}, decode::SpecOptions{5}));
  const char* prompts[] = {"Once upon a time", "Lily and Tom", "The cat", "One day, a big"};
  int mismatches = 0;
  for (int i = 0; i < 200; ++i) {
    decode::Amusd& s = *variants[i % variants.size()];
    const std::string prompt = prompts[i % 4];
    engine::GenerateOptions opt;
    opt.max_new_tokens = 1 + (i * 7) % 23;
    opt.sampling.seed = uint64_t(i);
    if (i % 2 == 0) {
      opt.sampling.temperature = 0;
      const engine::Result expected = run(ar, target, prompt, opt);
      mismatches += run(s, target, prompt, opt).tokens != expected.tokens;
    } else {
      opt.sampling.temperature = 0.9f;
      const engine::Result r = run(s, target, prompt, opt);
      EXPECT_LE(int64_t(r.tokens.size()), opt.max_new_tokens);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace amusd
