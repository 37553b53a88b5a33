// bench/tasks.cpp: what one uni task costs in time and memory, next to one pthread
// (the comparison of Figure 7a of the Mirage paper, ASPLOS'13).
//
// uni: a main task run by uni::run on uni::posix::PosixClock (real time, Asio)
// spawns N detached tasks; each runs until it parks on one wait_queue, so all N
// are alive at once. Main then reads the memory they hold, wakes them all and
// waits until the last has finished. Reported: wall seconds and ns per task for
// the whole create -> run -> park -> wake -> finish cycle (and for each phase),
// and bytes per live task three ways: what the coroutine frame asks of operator
// new (counted by the replacement below), what malloc holds with its own headers
// (mallinfo2), and resident memory (VmRSS).
// The uni cycle runs twice: `cold` while the heap grows (every new page of
// frames is a page fault), then `warm` reusing the memory the first round freed
// (malloc is told not to return it), as a long-running appliance would.
// pthread: std::thread create + join of M threads, in batches of B alive at
// once; bytes per live thread from VmRSS and VmSize with min(M, 1000) parked.
//
// Usage: bench_tasks [N=1000000] [--threads M=100000] [--thread-batch B=1000]
//        (M = 0 skips pthreads).
// Output: one `tasks impl=... key=value ...` line per measurement.
#include <malloc.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <new>
#include <thread>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/clock.hpp>

#include "bench_util.hpp"

// Counts what this thread asks of operator new (coroutine frames come from here).
// Not inlined, so the compiler pairs new with delete, never malloc with delete.
namespace {
thread_local std::uint64_t t_new_calls = 0;
thread_local std::uint64_t t_new_bytes = 0;
}  // namespace
[[gnu::noinline]] void* operator new(std::size_t n) {
  ++t_new_calls;
  t_new_bytes += n;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc{};
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using clk = std::chrono::steady_clock;

double seconds(clk::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t malloc_in_use() {
  const auto mi = mallinfo2();
  return static_cast<std::int64_t>(mi.uordblks + mi.hblkhd);
}

// Memory of the process at one moment.
struct memory {
  std::uint64_t new_calls = t_new_calls, new_bytes = t_new_bytes;
  std::int64_t heap = malloc_in_use();
  std::int64_t rss = bench::status_bytes("VmRSS");
  std::int64_t vsz = bench::status_bytes("VmSize");
};

struct uni_report {
  clk::duration spawn{}, start{}, finish{};
  memory before, parked, after;
  std::size_t parked_count = 0;
};

uni::task<void> parked_task(uni::wait_queue& gate, std::size_t& left, uni::wait_queue& all_done) {
  co_await gate.wait();
  if (--left == 0) all_done.notify_one();
}

uni::task<int> uni_main(uni::scheduler& s, std::size_t n, uni_report& r) {
  uni::wait_queue gate(s), all_done(s);
  std::size_t left = n;
  r.before = memory{};
  const auto t0 = clk::now();
  for (std::size_t i = 0; i < n; ++i) uni::detach(s, parked_task(gate, left, all_done));
  const auto t1 = clk::now();
  co_await s.yield();  // queued after the N new tasks: each runs up to gate.wait() first
  const auto t2 = clk::now();
  r.parked = memory{};
  r.parked_count = gate.size();
  const auto t3 = clk::now();
  gate.notify_all();
  while (left > 0) co_await all_done.wait();
  const auto t4 = clk::now();
  r.after = memory{};
  r.spawn = t1 - t0;
  r.start = t2 - t1;
  r.finish = t4 - t3;
  co_return r.parked_count == n ? 0 : 1;
}

int bench_uni(std::size_t n, const char* heap) {
  boost::asio::io_context io;
  uni::posix::PosixClock clock(io);
  uni::scheduler s;
  uni_report r;
  auto out = uni::run(s, clock, uni_main(s, n, r));
  if (!out.ok() || *out != 0) {
    std::fprintf(stderr, "bench_tasks: only %zu of %zu tasks parked\n", r.parked_count, n);
    return 1;
  }
  const double dn = static_cast<double>(n);
  const double total = seconds(r.spawn + r.start + r.finish);
  std::printf(
      "tasks impl=uni heap=%s n=%zu seconds=%.4f tasks_per_s=%.0f ns_per_task=%.1f spawn_ns=%.1f start_ns=%.1f "
      "finish_ns=%.1f allocs_per_task=%.2f frame_bytes=%.1f heap_bytes=%.1f rss_bytes=%.1f heap_left_after=%lld\n",
      heap, n, total, dn / total, total * 1e9 / dn, seconds(r.spawn) * 1e9 / dn, seconds(r.start) * 1e9 / dn,
      seconds(r.finish) * 1e9 / dn, static_cast<double>(r.parked.new_calls - r.before.new_calls) / dn,
      static_cast<double>(r.parked.new_bytes - r.before.new_bytes) / dn,
      static_cast<double>(r.parked.heap - r.before.heap) / dn, static_cast<double>(r.parked.rss - r.before.rss) / dn,
      static_cast<long long>(r.after.heap - r.before.heap));
  return 0;
}

int bench_threads(std::size_t n, std::size_t batch) {
  std::atomic<std::size_t> ran{0};
  // Memory: up to 1000 threads alive, parked on a latch.
  const std::size_t parked_n = std::min<std::size_t>(n, 1000);
  const memory before;
  std::latch started(static_cast<std::ptrdiff_t>(parked_n)), go(1);
  std::vector<std::thread> v;
  v.reserve(parked_n);
  for (std::size_t i = 0; i < parked_n; ++i) v.emplace_back([&] {
    started.count_down();
    go.wait();
  });
  started.wait();
  const memory parked;
  go.count_down();
  for (auto& t : v) t.join();
  // Time: create + join, `batch` threads alive at a time.
  const auto t0 = clk::now();
  for (std::size_t done = 0; done < n; done += batch) {
    v.clear();
    for (std::size_t i = 0; i < batch && done + i < n; ++i)
      v.emplace_back([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    for (auto& t : v) t.join();
  }
  const double total = seconds(clk::now() - t0);
  const double dn = static_cast<double>(n);
  std::printf("tasks impl=pthread batch=%zu n=%zu seconds=%.4f tasks_per_s=%.0f ns_per_task=%.1f rss_bytes=%.1f vsz_bytes=%.1f\n",
              batch, n, total, dn / total, total * 1e9 / dn, static_cast<double>(parked.rss - before.rss) / static_cast<double>(parked_n),
              static_cast<double>(parked.vsz - before.vsz) / static_cast<double>(parked_n));
  return ran.load() == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = bench::positional(argc, argv, 1'000'000);
  const std::size_t threads = bench::option(argc, argv, "--threads", 100'000);
  const std::size_t batch = std::max<std::size_t>(1, bench::option(argc, argv, "--thread-batch", 1000));
  mallopt(M_TRIM_THRESHOLD, -1);  // never give freed frames back: the warm round reuses them
  int rc = 0;
  if (n) {
    rc |= bench_uni(n, "cold");
    rc |= bench_uni(n, "warm");
  }
  std::fflush(stdout);
  if (threads) rc |= bench_threads(threads, batch);
  return rc;
}
