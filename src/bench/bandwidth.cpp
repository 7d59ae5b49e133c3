#include "bench/bandwidth.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "backend/thread_group.h"
#include "core/error.h"
#include "decode/stats.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace amusd::bench {

namespace {

constexpr size_t kLine = 64;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// Reads S streams of `stream_bytes` (a multiple of 64) starting at base, base + stream_bytes, ...: one cache line
// of each in turn. Returns a checksum so the loads cannot be optimised away.
template <int S>
uint64_t read_streams(const uint8_t* base, size_t stream_bytes) {
#if defined(__SSE2__)
  __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  for (size_t off = 0; off < stream_bytes; off += kLine)
    for (int s = 0; s < S; ++s) {
      const auto* p = reinterpret_cast<const __m128i*>(base + size_t(s) * stream_bytes + off);
      acc[0] = _mm_add_epi64(acc[0], _mm_load_si128(p + 0));
      acc[1] = _mm_add_epi64(acc[1], _mm_load_si128(p + 1));
      acc[2] = _mm_add_epi64(acc[2], _mm_load_si128(p + 2));
      acc[3] = _mm_add_epi64(acc[3], _mm_load_si128(p + 3));
    }
  const __m128i sum = _mm_add_epi64(_mm_add_epi64(acc[0], acc[1]), _mm_add_epi64(acc[2], acc[3]));
  alignas(16) uint64_t out[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(out), sum);
  return out[0] + out[1];
#else
  uint64_t acc[8] = {};
  for (size_t off = 0; off < stream_bytes; off += kLine)
    for (int s = 0; s < S; ++s) {
      const auto* p = reinterpret_cast<const uint64_t*>(base + size_t(s) * stream_bytes + off);
      for (int k = 0; k < 8; ++k) acc[k] += p[k];
    }
  uint64_t sum = 0;
  for (uint64_t a : acc) sum += a;
  return sum;
#endif
}

using ReadFn = uint64_t (*)(const uint8_t*, size_t);

ReadFn reader(int streams) {
  switch (streams) {
    case 1: return read_streams<1>;
    case 2: return read_streams<2>;
    case 3: return read_streams<3>;
    case 4: return read_streams<4>;
    case 6: return read_streams<6>;
    case 8: return read_streams<8>;
    case 12: return read_streams<12>;
    case 16: return read_streams<16>;
  }
  fail("bandwidth: unsupported number of streams ", streams, " (choose 1, 2, 3, 4, 6, 8, 12 or 16)");
}

// One timed pass of every thread over its slice; returns bytes / second.
double timed_pass(backend::ThreadGroup& group, const uint8_t* buf, size_t slice, int streams, ReadFn read,
                  uint64_t* sink) {
  decode::Clock::time_point t0, t1;
  group.run([&](backend::ThreadCtx& tc) {
    tc.barrier();
    if (tc.ith == 0) t0 = decode::Clock::now();
    sink[size_t(tc.ith) * 8] += read(buf + size_t(tc.ith) * slice, slice / size_t(streams));
    tc.barrier();
    if (tc.ith == 0) t1 = decode::Clock::now();
  });
  const double s = std::chrono::duration<double>(t1 - t0).count();
  return s > 0 ? double(slice) * double(group.size()) / s : 0;
}

}  // namespace

std::vector<BandwidthPoint> measure_read_bandwidth(backend::CpuDevice& device, const BandwidthOptions& o) {
  AMUSD_CHECK(o.reps >= 1 && o.reps <= 1000, "bandwidth: reps must be in 1..1000, got ", o.reps);
  AMUSD_CHECK(!o.streams.empty(), "bandwidth: no stream counts given");
  for (int s : o.streams) reader(s);  // validates
  backend::ThreadGroup& group = device.threads();
  const size_t n_threads = size_t(group.size());
  const size_t unit = kLine * 48;     // every slice splits evenly into 1..16 streams of whole cache lines
  const size_t slice = o.bytes / n_threads / unit * unit;
  AMUSD_CHECK(slice > 0, "bandwidth: buffer of ", o.bytes, " bytes is too small for ", n_threads, " threads");

  std::unique_ptr<uint8_t[], FreeDeleter> buf(static_cast<uint8_t*>(std::aligned_alloc(4096, slice * n_threads)));
  AMUSD_CHECK(buf, "bandwidth: cannot allocate ", slice * n_threads, " bytes");
  backend::ScopedPin pin(group.cpus()[0]);
  // Each thread touches its own slice first, so its pages live near it.
  group.run([&](backend::ThreadCtx& tc) { std::memset(buf.get() + size_t(tc.ith) * slice, tc.ith + 1, slice); });
  std::vector<uint64_t> sink(n_threads * 8);   // one cache line per thread

  std::vector<BandwidthPoint> out;
  for (int streams : o.streams) {
    const ReadFn read = reader(streams);
    double best = 0;
    for (int r = 0; r < o.reps; ++r) best = std::max(best, timed_pass(group, buf.get(), slice, streams, read, sink.data()));
    out.push_back({int(n_threads), streams, best / 1e9});
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sink) keep = keep + v;
  (void)keep;
  return out;
}

BandwidthPoint best_bandwidth(const std::vector<BandwidthPoint>& points) {
  AMUSD_ASSERT(!points.empty());
  return *std::max_element(points.begin(), points.end(),
                           [](const auto& a, const auto& b) { return a.gb_per_s < b.gb_per_s; });
}

nlohmann::json to_json(const BandwidthPoint& p) {
  return {{"threads", p.threads}, {"streams", p.streams}, {"gb_per_s", p.gb_per_s}};
}

}  // namespace amusd::bench
