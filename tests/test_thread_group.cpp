#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <thread>

#include "backend/device.h"
#include "backend/thread_group.h"
#include "core/error.h"

namespace amusd::backend {
namespace {

TEST(CpuList, Parses) {
  const auto all = available_cpus();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(parse_cpu_list(std::to_string(all[0])), std::vector<int>{all[0]});
  EXPECT_EQ(format_cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
  if (all.size() >= 2 && all[1] == all[0] + 1) {
    EXPECT_EQ(parse_cpu_list(format_cpu_list({all[0], all[1]})), (std::vector<int>{all[0], all[1]}));
  }
}

TEST(CpuList, RejectsBadSpecs) {
  for (const char* bad : {"", "a", "1-", "-1", "3-1", "0,,1", "0;1", "99999", "4095"})
    EXPECT_THROW(parse_cpu_list(bad), Error) << bad;
}

TEST(ThreadGroup, RunsEveryThreadOnce) {
  const auto cpus = available_cpus();
  for (int n : {1, 2, 3, 5}) {
    ThreadGroup g(cpus, n);
    for (int iter = 0; iter < 200; ++iter) {
      std::vector<std::atomic<int>> hits(n);
      g.run([&](ThreadCtx& tc) {
        EXPECT_EQ(tc.nth, n);
        hits[tc.ith]++;
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadGroup, BarrierOrdersPhases) {
  const auto cpus = available_cpus();
  ThreadGroup g(cpus, 3);
  std::vector<int> data(300);
  for (int iter = 0; iter < 100; ++iter) {
    g.run([&](ThreadCtx& tc) {
      auto [b, e] = tc.range(int64_t(data.size()));
      for (int64_t i = b; i < e; ++i) data[i] = iter;
      tc.barrier();
      // Every element was written in phase one, whoever wrote it.
      for (int v : data) EXPECT_EQ(v, iter);
      tc.barrier();
    });
  }
}

TEST(ThreadGroup, RangesPartition) {
  ThreadGroup g(available_cpus(), 4);
  for (int64_t n : {0, 1, 3, 4, 7, 1000}) {
    std::vector<std::atomic<int>> cover(n);
    g.run([&](ThreadCtx& tc) {
      auto [b, e] = tc.range(n);
      for (int64_t i = b; i < e; ++i) cover[i]++;
    });
    for (auto& c : cover) EXPECT_EQ(c.load(), 1);
  }
}

TEST(ThreadGroup, TwoGroupsRunConcurrently) {
  const auto cpus = available_cpus();
  ThreadGroup a(cpus, 2), b(cpus, 2);
  std::atomic<long> sum_a{0}, sum_b{0};
  std::thread ta([&] {
    for (int i = 0; i < 300; ++i) a.run([&](ThreadCtx& tc) { sum_a += tc.ith + 1; });
  });
  std::thread tb([&] {
    for (int i = 0; i < 300; ++i) b.run([&](ThreadCtx& tc) { sum_b += tc.ith + 1; });
  });
  ta.join();
  tb.join();
  EXPECT_EQ(sum_a.load(), 300 * 3);
  EXPECT_EQ(sum_b.load(), 300 * 3);
}

TEST(ThreadGroup, SleepsAndWakes) {
  ThreadGroup g(available_cpus(), 2);
  std::atomic<int> n{0};
  g.run([&](ThreadCtx&) { n++; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // workers fall asleep on the futex
  g.run([&](ThreadCtx&) { n++; });
  EXPECT_EQ(n.load(), 4);
}

TEST(Device, DescribesItself) {
  auto d = make_cpu_device("verify", std::to_string(available_cpus()[0]), 1);
  EXPECT_NE(d->describe().find("verify: cpu"), std::string::npos);
  EXPECT_THROW(make_cpu_device("x", "9999", 1), Error);
}

}  // namespace
}  // namespace amusd::backend
