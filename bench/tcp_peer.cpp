// bench/tcp_peer.cpp: the Linux side of bench/tcp.sh, one tool for every pair so
// that uni and Linux are measured the same way: F flows at once, one thread and
// one blocking kernel socket each.
//
//   bench_tcp_peer client send|recv --host IP --port P --flows F [--bytes N] [--timeout S]
//   bench_tcp_peer server sink|source --port P --flows F [--bytes N] [--timeout S]
//
// send/source: write N zero bytes per flow, shut down our side, then read until
// the peer closes (so the time covers every byte delivered and read). recv/sink:
// read until the peer closes, then close. The one that *receives* times the
// transfer, from the first connection (connect or accept) to the last end of
// stream, and prints one line:
//   tcp-peer role=client dir=recv flows=10 bytes=1073741824 seconds=0.812 gbit_s=10.58 ok=1
// ok=0 (exit status 1) if a flow failed or, with --bytes, a receiver got another count.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"

namespace {

using clk = std::chrono::steady_clock;

std::atomic<std::uint64_t> total{0};
std::atomic<bool> failed{false};

void complain(const char* what) {
  std::fprintf(stderr, "tcp-peer: %s: %s\n", what, std::strerror(errno));
  failed = true;
}

// Reads to the end of stream; the byte count, or -1 on error.
std::int64_t drain(int fd) {
  static thread_local char buf[256 * 1024];
  std::int64_t n = 0;
  while (true) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r == 0) return n;
    if (r < 0) {
      if (errno == EINTR) continue;
      complain("read");
      return -1;
    }
    n += r;
  }
}

bool fill(int fd, std::uint64_t bytes) {
  static const char zeros[256 * 1024] = {};
  while (bytes > 0) {
    const std::size_t part = bytes < sizeof zeros ? static_cast<std::size_t>(bytes) : sizeof zeros;
    const ssize_t w = ::write(fd, zeros, part);
    if (w < 0) {
      if (errno == EINTR) continue;
      complain("write");
      return false;
    }
    bytes -= static_cast<std::uint64_t>(w);
  }
  return true;
}

// One flow on a connected socket.
void flow(int fd, bool sending, std::uint64_t bytes, bool check) {
  if (sending) {
    if (fill(fd, bytes) && ::shutdown(fd, SHUT_WR) == 0) drain(fd);
    else failed = true;
  } else {
    const std::int64_t n = drain(fd);
    if (n >= 0) total += static_cast<std::uint64_t>(n);
    if (check && n >= 0 && static_cast<std::uint64_t>(n) != bytes) {
      std::fprintf(stderr, "tcp-peer: received %lld bytes, expected %llu\n", static_cast<long long>(n),
                   static_cast<unsigned long long>(bytes));
      failed = true;
    }
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s client send|recv --host IP --port P --flows F [--bytes N] [--timeout S]\n"
                 "       %s server sink|source --port P --flows F [--bytes N] [--timeout S]\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::string role = argv[1], dir = argv[2];
  const bool client = role == "client";
  const bool sending = dir == "send" || dir == "source";
  const std::string host = bench::option_str(argc, argv, "--host", "127.0.0.1");
  const auto port = static_cast<std::uint16_t>(bench::option(argc, argv, "--port", 5001));
  const std::size_t flows = bench::option(argc, argv, "--flows", 1);
  const std::uint64_t bytes = bench::option(argc, argv, "--bytes", 0);
  const bool check = bytes > 0;
  // A hung peer must not hang the benchmark: the whole run is bounded.
  alarm(static_cast<unsigned>(bench::option(argc, argv, "--timeout", 120)));
  if ((!client && role != "server") || (!sending && dir != "recv" && dir != "sink") || flows == 0 ||
      (sending && bytes == 0)) {
    std::fprintf(stderr, "tcp-peer: bad arguments (senders need --bytes N)\n");
    return 2;
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  std::vector<int> fds;
  clk::time_point start;
  if (client) {
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      std::fprintf(stderr, "tcp-peer: bad --host %s\n", host.c_str());
      return 2;
    }
    start = clk::now();
    for (std::size_t i = 0; i < flows; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        complain("connect");
        return 1;
      }
      fds.push_back(fd);
    }
  } else {
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
        ::listen(l, static_cast<int>(flows)) < 0) {
      complain("listen");
      return 1;
    }
    std::printf("tcp-peer: listening on port %u\n", static_cast<unsigned>(port));
    std::fflush(stdout);
    for (std::size_t i = 0; i < flows; ++i) {
      const int fd = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        complain("accept");
        return 1;
      }
      if (i == 0) start = clk::now();
      fds.push_back(fd);
    }
    ::close(l);
  }
  // All flows are connected before any starts, so they share the link throughout.
  std::vector<std::thread> threads;
  for (int fd : fds) threads.emplace_back(flow, fd, sending, bytes, check);
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(clk::now() - start).count();
  const std::uint64_t moved = sending ? bytes * flows : total.load();
  std::printf("tcp-peer role=%s dir=%s flows=%zu bytes=%llu seconds=%.4f gbit_s=%.3f ok=%d\n", role.c_str(),
              dir.c_str(), flows, static_cast<unsigned long long>(moved), s, s > 0 ? moved * 8 / s / 1e9 : 0.0,
              failed ? 0 : 1);
  return failed ? 1 : 0;
}
