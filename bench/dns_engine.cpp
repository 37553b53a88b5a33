// bench/dns_engine.cpp: the DNS engine alone (uni/dns/server.hpp), no I/O:
// query bytes in, answer bytes out, on one core. For zones of N names (the
// paper's Figure 10 sizes), queries for random existing names in random case,
// with the memo table on and off; and the appliance's whole packet path without
// a device: the same queries as Ethernet frames handed to a uni::Stack in pages
// (as TapNetif does after its read), answered by dns::serve (memoized), the
// answer frames counted by a device that drops them. That last figure is what
// uni itself costs per query between the TAP read and write system calls.
//   bench_dns_engine [--names 100,1000,10000] [--seconds S] [--only stack]
// Prints one line per zone size: names, q/s memoized, q/s built each time, q/s
// through the stack (`--only stack`: the engine alone is not run, its columns 0;
// bench/trace.sh, whose pairs of runs should follow each other closely).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <memory>
#include <optional>
#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>
#include <uni/dns/server.hpp>
#include <uni/dns/service.hpp>
#include <uni/dns/zone_file.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/stack.hpp>

#include "trace_stamps.hpp"

using namespace uni::dns;

namespace {

std::string zone_text(int names) {
  std::string z = "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 10.0.0.53\n";
  for (int i = 0; i < names; ++i)
    z += "host-" + std::to_string(i) + " A 10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) +
         "." + std::to_string(i & 255) + "\n";
  return z;
}

std::vector<std::vector<std::uint8_t>> queries(int names, std::mt19937& rng) {
  std::vector<std::vector<std::uint8_t>> out;
  std::uniform_int_distribution<int> pick(0, names - 1);
  for (int k = 0; k < 8192; ++k) {
    std::string host = "host-" + std::to_string(pick(rng));
    for (char& c : host)
      if (rng() & 1) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    const name n = *name::parse(host + ".bench.test.");
    std::vector<std::uint8_t> q = {static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k), 1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    q.insert(q.end(), n.wire().begin(), n.wire().end());
    q.insert(q.end(), {0, 1, 0, 1});
    q.insert(q.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});  // EDNS, 4096 (as dnsperf sends)
    out.push_back(std::move(q));
  }
  return out;
}

double run(server& s, const std::vector<std::vector<std::uint8_t>>& qs, double seconds) {
  std::vector<std::uint8_t> out(4096);
  const auto start = std::chrono::steady_clock::now();
  std::size_t done = 0, bytes = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int k = 0; k < 4096; ++k) bytes += s.answer(qs[done++ % qs.size()], out, transport::udp);
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (bytes == 0) std::abort();
  return static_cast<double>(done) / elapsed;
}

// ---- The packet path: frames in, frames out, no device ----------------------------

constexpr uni::mac_address our_mac{{0x02, 0, 0, 0, 0, 0x53}}, peer_mac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr uni::ipv4_address our_ip = uni::ipv4_address::from_octets(10, 0, 0, 53);
constexpr uni::ipv4_address peer_ip = uni::ipv4_address::from_octets(10, 0, 0, 1);

// A device that takes the frames it is given and counts them.
struct counting_netif {
  uni::frame_receiver receiver{};
  std::uint64_t sent = 0;
  uni::mac_address mac() const noexcept { return our_mac; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(uni::frame_receiver r) noexcept { receiver = r; }
  uni::result<void> transmit(std::span<const uni::view>) noexcept {
    ++sent;
    return {};
  }
};

struct path_config : uni::default_config {  // as examples/dns
  static constexpr std::size_t udp_queue = 256;
  static constexpr std::size_t io_pages = 4096;
  static constexpr bool trace = uni::trace::compiled;  // bench_dns_engine_traced (bench/trace.sh)
};


std::vector<std::uint8_t> ethernet_header(std::uint16_t type, uni::mac_address dst) {
  std::vector<std::uint8_t> f(dst.bytes.begin(), dst.bytes.end());
  f.insert(f.end(), peer_mac.bytes.begin(), peer_mac.bytes.end());
  f.insert(f.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type)});
  return f;
}

// A query from peer_ip:40000 to our port 53, checksums right.
std::vector<std::uint8_t> query_frame(const std::vector<std::uint8_t>& q) {
  std::vector<std::uint8_t> f = ethernet_header(0x0800, our_mac);
  const std::size_t ip = f.size(), udp_length = 8 + q.size();
  f.resize(ip + 20 + udp_length);
  std::uint8_t* h = &f[ip];
  h[0] = 0x45;
  uni::wire::store_be16(h + 2, static_cast<std::uint16_t>(20 + udp_length));
  h[8] = 64;
  h[9] = 17;
  uni::wire::store_be32(h + 12, peer_ip.value);
  uni::wire::store_be32(h + 16, our_ip.value);
  uni::wire::store_be16(h + 10, uni::internet_checksum({h, 20}));
  std::uint8_t* u = h + 20;
  uni::wire::store_be16(u, 40000);
  uni::wire::store_be16(u + 2, 53);
  uni::wire::store_be16(u + 4, static_cast<std::uint16_t>(udp_length));
  std::copy(q.begin(), q.end(), u + 8);
  uni::checksum_accumulator c;
  c.add({h + 12, 8});
  c.add16(17);
  c.add16(static_cast<std::uint16_t>(udp_length));
  c.add({u, udp_length});
  std::uint16_t sum = c.finish();
  uni::wire::store_be16(u + 6, sum == 0 ? 0xffff : sum);
  return f;
}

// "Who has our_ip? Tell peer_ip": the stack learns the peer from it.
std::vector<std::uint8_t> arp_request() {
  std::vector<std::uint8_t> f = ethernet_header(0x0806, uni::mac_address::broadcast());
  f.insert(f.end(), {0, 1, 8, 0, 6, 4, 0, 1});
  f.insert(f.end(), peer_mac.bytes.begin(), peer_mac.bytes.end());
  for (int i = 3; i >= 0; --i) f.push_back(static_cast<std::uint8_t>(peer_ip.value >> (8 * i)));
  f.insert(f.end(), 6, 0);
  for (int i = 3; i >= 0; --i) f.push_back(static_cast<std::uint8_t>(our_ip.value >> (8 * i)));
  return f;
}

double run_stack(std::vector<zone> zones, const std::vector<std::vector<std::uint8_t>>& qs, double seconds) {
  using stack_type = uni::Stack<counting_netif, uni::sim::ManualClock, path_config>;
  counting_netif nic;
  uni::sim::ManualClock clock;
  uni::scheduler sched;
  auto pool = std::make_unique<uni::static_page_pool<path_config::io_pages>>();
  // Traced (UNI_TRACE=1): every task, frame and query recorded into a ring that wraps, as --trace does.
  bench::trace_stamps traced(path_config::trace_events);
  stack_type stack(nic, clock, sched, *pool, {{our_ip, 24}, peer_ip, false});
  stack.start();
  server_options memo;
  memo.memo_slots = 16384;
  server srv(std::move(zones), memo);
  auto service = uni::spawn(sched, serve(stack, srv, 53));
  std::vector<std::vector<std::uint8_t>> frames;
  for (const auto& q : qs) frames.push_back(query_frame(q));
  auto hand_over = [&](const std::vector<std::uint8_t>& f) {
    auto page = pool->allocate();
    if (!page) std::abort();
    std::memcpy(page->data(), f.data(), f.size());
    nic.receiver(page->head(f.size()));
  };
  hand_over(arp_request());
  while (sched.run_ready()) {
  }
  const std::uint64_t before = nic.sent;
  constexpr std::size_t batch = 32;  // frames per wake-up, as a busy TAP read loop gives them
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = bench::cpu_seconds();
  constexpr std::size_t lap = 128 * batch;  // queries a lap (a few ms)
  bench::cpu_laps laps(static_cast<std::size_t>(seconds * 1e7 / lap) + 16);  // room for 10 M queries a second
  laps.start();
  std::size_t done = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (std::size_t round = 0; round < lap / batch; ++round) {
      for (std::size_t k = 0; k < batch; ++k) hand_over(frames[done++ % frames.size()]);
      sched.advance(clock.now());  // as the run loop's turn after a wait (uni/core/run.hpp)
      while (sched.run_ready()) {
      }
    }
    laps.lap();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double cpu = bench::cpu_seconds() - cpu_start;
  if (nic.sent - before != done) {
    std::fprintf(stderr, "bench_dns_engine: %zu queries, %llu answers\n", done,
                 static_cast<unsigned long long>(nic.sent - before));
    std::exit(1);
  }
  std::fprintf(stderr, "bench_dns_engine: stack: %zu queries, %.1f ns of CPU per query\n", done, cpu * 1e9 / static_cast<double>(done));
  std::fprintf(stderr, "bench_dns_engine: stack: the median of %zu laps of %zu queries, %.1f ns of CPU per query; %ld context switches\n",
               laps.count(), lap, laps.median() * 1e9 / static_cast<double>(lap), laps.switches());
  if (traced.on())
    std::fprintf(stderr, "bench_dns_engine: traced, %llu events recorded (%.1f per query)\n",
                 static_cast<unsigned long long>(traced.recorded()),
                 static_cast<double>(traced.recorded()) / static_cast<double>(done));
  return static_cast<double>(done) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {100, 1000, 10000};
  double seconds = 1.0;
  bool engine = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--only") {
      engine = std::string_view(argv[i + 1]) != "stack";
    } else if (a == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (a == "--names") {
      sizes.clear();
      for (const char* p = argv[i + 1]; *p;) {
        sizes.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p) ++p;
      }
    }
  }
  std::mt19937 rng(42);
  std::printf("%-8s %16s %16s %16s\n", "names", "memoized q/s", "built q/s", "stack q/s");
  for (int n : sizes) {
    std::string problem;
    auto load = [&] {
      auto z = load_zone(zone_text(n), name{}, "bench.zone", problem);
      if (!z) {
        std::fprintf(stderr, "%s\n", problem.c_str());
        std::exit(1);
      }
      std::vector<zone> zs;
      zs.push_back(std::move(*z));
      return zs;
    };
    const auto qs = queries(n, rng);
    server_options memo;
    memo.memo_slots = 16384;
    server_options none;
    none.memo_slots = 0;
    double a = 0, b = 0;
    if (engine) {
      server with(load(), memo), without(load(), none);
      (void)run(with, qs, 0.1);  // warm the memo table
      a = run(with, qs, seconds);
      b = run(without, qs, seconds);
    }
    const double c = run_stack(load(), qs, seconds);
    std::printf("%-8d %16.0f %16.0f %16.0f\n", n, a, b, c);
  }
  return 0;
}
