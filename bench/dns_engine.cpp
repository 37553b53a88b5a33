// bench/dns_engine.cpp: the DNS engine alone (uni/dns/server.hpp), no I/O:
// query bytes in, answer bytes out, on one core. For zones of N names (the
// paper's Figure 10 sizes), queries for random existing names in random case,
// with the memo table on and off.
//   bench_dns_engine [--names 100,1000,10000] [--seconds S]
// Prints one line per zone size: names, q/s memoized, q/s built each time.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <uni/dns/server.hpp>
#include <uni/dns/zone_file.hpp>

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

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {100, 1000, 10000};
  double seconds = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--seconds") {
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
  std::printf("%-8s %16s %16s\n", "names", "memoized q/s", "built q/s");
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
    server with(load(), memo), without(load(), none);
    (void)run(with, qs, 0.1);  // warm the memo table
    const double a = run(with, qs, seconds), b = run(without, qs, seconds);
    std::printf("%-8d %16.0f %16.0f\n", n, a, b);
  }
  return 0;
}
