// bench/tcp_sim.cpp: TCP bulk throughput through two uni::Stacks joined by a
// lossless simulated link, in one process on one core: no device, no system
// call, so what it measures is uni's own per-segment path (Ethernet, IPv4, TCP
// on both ends, the tasks that read and write). bench/trace.sh builds it twice,
// with tracing compiled in and recording (UNI_TRACE=1: bench_tcp_sim_traced)
// and without, to show what tracing costs on the TCP path.
//   bench_tcp_sim [--megabytes N] [--rounds R]
// Prints one line: megabytes per second (the median of R transfers of N MB),
// the events recorded per segment when traced, megabytes per second of this
// thread's CPU time (the median; what another process's time slice does not
// inflate), the same of the median 1 MB lap (what the cold cache after a
// context switch does not inflate either: bench::cpu_laps), and the context
// switches during the transfers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/sim/sim_link.hpp>
#include <uni/stack.hpp>

#include "trace_stamps.hpp"

namespace {

using namespace std::chrono_literals;

struct bench_config : uni::default_config {
  static constexpr bool trace = uni::trace::compiled;  // bench_tcp_sim_traced (bench/trace.sh)
};
using stack_type = uni::Stack<uni::sim::SimNetif, uni::sim::ManualClock, bench_config>;

const uni::ipv4_address a_ip = uni::ipv4_address::from_octets(10, 0, 0, 2);
const uni::ipv4_address b_ip = uni::ipv4_address::from_octets(10, 0, 0, 3);

constexpr std::size_t lap_bytes = 1 << 20;  // a lap of the CPU time's median (bench::cpu_laps)

struct outcome {
  double seconds = 0, cpu_seconds = 0, lap_seconds = 0;  // lap_seconds: the median lap's CPU time
  std::uint64_t segments = 0, events = 0;
  long switches = 0;
};

// One transfer of `bytes` from a to b; false if it did not arrive whole.
bool transfer(std::size_t bytes, outcome& out) {
  auto pool = std::make_unique<uni::static_page_pool<4096>>();
  uni::sim::ManualClock clock;
  bench::trace_stamps traced(bench_config::trace_events);
  uni::scheduler sched;
  uni::sim::sim_link link(*pool, clock, 1, {});
  stack_type a(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, 1});
  stack_type b(link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false, 2});
  a.start();
  b.start();
  std::size_t got = 0;
  bool whole = false;
  auto main = [&]() -> uni::task<void> {
    auto l = b.tcp_listen(80);
    if (!l) co_return;
    auto sink = [&]() -> uni::task<void> {
      auto c = co_await l->accept();
      if (!c) co_return;
      while (true) {
        auto v = co_await c->read();
        if (!v || v->empty()) break;
        got += v->size();
      }
    };
    auto receiver = uni::spawn(sched, sink());
    auto c = co_await a.tcp_connect({b_ip, 80}, 10s);
    if (!c) co_return;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = bench::cpu_seconds();
    bench::cpu_laps laps(bytes / lap_bytes + 1);
    laps.start();
    for (std::size_t sent = 0; sent < bytes; sent += uni::page_size) {
      if (sent % lap_bytes == 0 && sent > 0) laps.lap();
      auto page = pool->allocate();
      while (!page) {  // every page is in flight: let the stacks run
        co_await sched.sleep_for(1us);
        page = pool->allocate();
      }
      const auto w = co_await c->write(page->head(std::min(uni::page_size, bytes - sent)));
      if (!w) co_return;
    }
    (void)c->shutdown();
    co_await receiver.join();
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.cpu_seconds = bench::cpu_seconds() - cpu_start;
    out.lap_seconds = laps.median();
    out.switches = laps.switches();
    out.segments = c->connection().statistics().segments_out;
    whole = got == bytes;
  };
  if (!uni::run(sched, clock, main()).ok()) return false;
  out.events = traced.recorded();
  return whole;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t megabytes = 200;
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--megabytes") megabytes = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--rounds") rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_tcp_sim [--megabytes N] [--rounds R]\n");
      return 2;
    }
  }
  std::vector<double> rates, cpu_rates, lap_rates;
  long switches = 0;
  outcome last;
  for (int r = 0; r < rounds; ++r) {
    if (!transfer(megabytes * 1'000'000, last)) {
      std::fprintf(stderr, "bench_tcp_sim: the transfer did not arrive whole\n");
      return 1;
    }
    rates.push_back(static_cast<double>(megabytes) / last.seconds);
    cpu_rates.push_back(static_cast<double>(megabytes) / last.cpu_seconds);
    lap_rates.push_back(static_cast<double>(lap_bytes) / 1e6 / last.lap_seconds);
    switches += last.switches;
  }
  std::sort(rates.begin(), rates.end());
  std::sort(cpu_rates.begin(), cpu_rates.end());
  std::sort(lap_rates.begin(), lap_rates.end());
  const double per_segment = last.segments ? static_cast<double>(last.events) / static_cast<double>(last.segments) : 0;
  std::printf("%.1f MB/s %.2f events/segment %.1f MB/CPU-s %.1f MB/CPU-s-median-lap %ld context-switches\n",
              rates[rates.size() / 2], per_segment, cpu_rates[cpu_rates.size() / 2], lap_rates[lap_rates.size() / 2],
              switches);
  return 0;
}
