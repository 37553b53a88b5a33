// bench/pauses.cpp: how long this machine stood still while a benchmark ran.
//
// One thread per CPU, pinned there at real-time priority (SCHED_FIFO: no process
// of the guest can keep it from running), sleeps 2 ms in a loop and counts every
// wake-up that came PAUSE ms or more late. Such a gap is the CPU itself not
// running: a hypervisor that paused it (a CPU quota, a busy host), not the
// scheduler of this machine. On the VM these benchmarks run on, the host pauses
// a busy vCPU for ~100 ms about once a second; every latency tail measured across
// such a pause shows it, whatever the server. bench/http.sh runs this beside each
// wrk run, so a p99 of ~100 ms can be told from the server's own.
//
// Usage: bench_pauses --seconds S [--pause-ms 20]
// Output: `pauses count=N worst_ms=W total_ms=T fifo=1` (fifo=0: the real-time
// priority was refused, e.g. without root, and the figures may include the
// guest's own scheduling).
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

double now_s() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

struct tally {
  unsigned count = 0;
  double worst = 0, total = 0;  // seconds late
};

constexpr double nap = 0.002;

tally watch(unsigned cpu, double seconds, double pause, std::atomic<bool>& fifo) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
  sched_param p{};
  p.sched_priority = 50;
  if (::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &p) != 0) fifo = false;
  tally t;
  const double end = now_s() + seconds;
  for (double last = now_s(); last < end;) {
    const timespec d{0, static_cast<long>(nap * 1e9)};
    ::nanosleep(&d, nullptr);
    const double at = now_s();
    const double late = at - last - nap;
    if (late >= pause) {
      ++t.count;
      t.total += late;
      t.worst = std::max(t.worst, late);
    }
    last = at;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 0, pause_ms = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--pause-ms") == 0) pause_ms = std::atof(argv[i + 1]);
  }
  if (seconds <= 0 || pause_ms <= 0 || argc % 2 == 0) {
    std::fprintf(stderr, "usage: bench_pauses --seconds S [--pause-ms 20]\n");
    return 2;
  }
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  std::vector<tally> per(cpus);
  std::atomic<bool> fifo{true};
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < cpus; ++c)
    threads.emplace_back([&, c] { per[c] = watch(c, seconds, pause_ms / 1e3, fifo); });
  for (std::thread& t : threads) t.join();
  tally all;
  for (const tally& t : per) {
    all.count += t.count;
    all.total += t.total;
    all.worst = std::max(all.worst, t.worst);
  }
  std::printf("pauses count=%u worst_ms=%.1f total_ms=%.1f fifo=%d\n", all.count, all.worst * 1e3, all.total * 1e3,
              fifo ? 1 : 0);
  return 0;
}
