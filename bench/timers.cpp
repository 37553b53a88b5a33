// bench/timers.cpp: timer precision, as in Figure 7b of the Mirage paper (ASPLOS'13).
//
// uni: N tasks (1 M by default), all alive at once under uni::run on
// uni::posix::PosixClock (real time, Asio), each read the clock, sleep a
// uniformly random 1-4 s (seeded) with sleep_until, then record their real
// wake-up time minus the deadline they asked for: the jitter.
// pthread: the same with M threads (10 000 by default; a million threads do not
// fit), each sleeping with clock_nanosleep(TIMER_ABSTIME): the kernel's own
// precision for a blocked thread, what a thread-per-sleeper design gets.
// Reported: jitter p50, p99, p99.9, max and mean in microseconds; with --out DIR
// the CDF of each (jitter-uni.dat, jitter-pthread.dat: "jitter_us percent") for
// gnuplot.
//
// Usage: bench_timers [--tasks N] [--threads M] [--max-sleep-ms 4000]
//        [--min-sleep-ms max/4] [--seed 1] [--timer-slack-ns S] [--out DIR]
// --timer-slack-ns sets this process's Linux timer slack (prctl) before anything
// sleeps; 0 (the default) keeps the inherited one (50 us on Linux).
// Output: one `timers impl=... key=value ...` line per implementation.
#include <sys/prctl.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/clock.hpp>

#include "bench_util.hpp"

namespace {

using uni::posix::PosixClock;

struct config {
  std::size_t tasks, threads, min_ms, max_ms, seed;
  std::string out;
};

std::vector<uni::duration> sleep_times(const config& c, std::size_t n, std::size_t salt) {
  std::mt19937_64 rng(c.seed * 1000003 + salt);
  std::uniform_int_distribution<std::int64_t> ns(static_cast<std::int64_t>(c.min_ms) * 1'000'000,
                                                 static_cast<std::int64_t>(c.max_ms) * 1'000'000);
  std::vector<uni::duration> v(n);
  for (auto& d : v) d = uni::duration{ns(rng)};
  return v;
}

// Prints the summary line and writes the CDF (at most 2000 points) if asked.
void report(const char* impl, const config& c, std::vector<std::int64_t> jitter_ns, double wall) {
  std::sort(jitter_ns.begin(), jitter_ns.end());
  double sum = 0;
  for (auto j : jitter_ns) sum += static_cast<double>(j);
  auto us = [&](double q) { return static_cast<double>(bench::percentile(jitter_ns, q)) / 1e3; };
  std::printf("timers impl=%s n=%zu min_sleep_ms=%zu max_sleep_ms=%zu slack_ns=%d p50_us=%.1f p99_us=%.1f "
              "p999_us=%.1f max_us=%.1f mean_us=%.1f wall_s=%.2f\n",
              impl, jitter_ns.size(), c.min_ms, c.max_ms, prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), us(0.5), us(0.99),
              us(0.999), us(1.0), sum / static_cast<double>(jitter_ns.size()) / 1e3, wall);
  std::fflush(stdout);
  if (c.out.empty()) return;
  std::filesystem::create_directories(c.out);
  const std::string path = c.out + "/jitter-" + impl + ".dat";
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return;
  std::fprintf(f, "# %s: wake-up jitter of %zu sleepers\n# jitter_us percent\n", impl, jitter_ns.size());
  const std::size_t points = std::min<std::size_t>(jitter_ns.size(), 2000);
  for (std::size_t i = 1; i <= points; ++i) {
    const double q = static_cast<double>(i) / static_cast<double>(points);
    std::fprintf(f, "%.3f %.3f\n", static_cast<double>(bench::percentile(jitter_ns, q)) / 1e3, q * 100);
  }
  std::fclose(f);
}

uni::task<void> sleeper(uni::scheduler& s, const PosixClock& clock, uni::duration d, std::int64_t& jitter,
                        std::size_t& left, uni::wait_queue& all_done) {
  const uni::time_point deadline = clock.now() + d;
  co_await s.sleep_until(deadline);
  jitter = (clock.now() - deadline).count();
  if (--left == 0) all_done.notify_one();
}

uni::task<int> uni_main(uni::scheduler& s, const PosixClock& clock, const std::vector<uni::duration>& sleeps,
                        std::vector<std::int64_t>& jitter) {
  uni::wait_queue all_done(s);
  std::size_t left = sleeps.size();
  for (std::size_t i = 0; i < sleeps.size(); ++i) uni::detach(s, sleeper(s, clock, sleeps[i], jitter[i], left, all_done));
  while (left > 0) co_await all_done.wait();
  co_return 0;
}

void bench_uni(const config& c) {
  const auto sleeps = sleep_times(c, c.tasks, 1);
  std::vector<std::int64_t> jitter(c.tasks);
  boost::asio::io_context io;
  PosixClock clock(io);
  uni::scheduler s;
  const auto t0 = std::chrono::steady_clock::now();
  (void)uni::run(s, clock, uni_main(s, clock, sleeps, jitter));
  report("uni", c, std::move(jitter), std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

std::int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

void bench_threads(const config& c) {
  const auto sleeps = sleep_times(c, c.threads, 2);
  std::vector<std::int64_t> jitter(c.threads);
  std::vector<std::thread> threads;
  threads.reserve(c.threads);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < c.threads; ++i)
    threads.emplace_back([&, i] {
      const std::int64_t deadline = mono_ns() + sleeps[i].count();
      const timespec ts{static_cast<time_t>(deadline / 1'000'000'000), static_cast<long>(deadline % 1'000'000'000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
      }
      jitter[i] = mono_ns() - deadline;
    });
  for (auto& t : threads) t.join();
  report("pthread", c, std::move(jitter),
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

int main(int argc, char** argv) {
  config c{};
  c.tasks = bench::option(argc, argv, "--tasks", 1'000'000);
  c.threads = bench::option(argc, argv, "--threads", 10'000);
  c.max_ms = bench::option(argc, argv, "--max-sleep-ms", 4000);
  c.min_ms = bench::option(argc, argv, "--min-sleep-ms", c.max_ms / 4);
  c.seed = bench::option(argc, argv, "--seed", 1);
  c.out = bench::option_str(argc, argv, "--out", "");
  if (c.min_ms > c.max_ms) {
    std::fprintf(stderr, "bench_timers: --min-sleep-ms is above --max-sleep-ms\n");
    return 2;
  }
  if (const std::size_t slack = bench::option(argc, argv, "--timer-slack-ns", 0); slack > 0)
    prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0);
  if (c.tasks) bench_uni(c);
  if (c.threads) bench_threads(c);
  return 0;
}
