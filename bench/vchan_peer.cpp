// bench/vchan_peer.cpp: dom0's end of bench/vchan.sh, against an echo appliance
// in a domU: the same two measurements over a vchan (libxenvchan's client) and
// over TCP (a socket to the appliance's netfront address), so the two carriers
// are compared by one program in one run.
//
//   vchan_peer vchan DOMID XS-PATH BYTES ROUNDS
//   vchan_peer tcp ADDRESS PORT BYTES ROUNDS
//
// Throughput: BYTES sent while the echo comes back (writes and reads
// interleaved, never blocking on one while the other could go on), timed from
// the first byte to the last echoed one, every byte checked. Round trip: ROUNDS
// exchanges of 64 bytes, each sent once the previous came back; the median.
// Prints one line: "CARRIER BYTES bytes in S s (MiB/s), round trip median US us
// (ROUNDS rounds)"; exit status 1 if a byte came back changed or the peer went.
// Built by bench/vchan.sh with the host's compiler (libxen-dev), run in dom0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
#include <libxenvchan.h>
}

namespace {

using clock_type = std::chrono::steady_clock;

std::uint8_t pattern(std::uint64_t i) { return static_cast<std::uint8_t>(i * 7 + i / 1021); }

// One carrier: non-blocking send and receive of what fits now, and a wait for
// either to be able to go on.
struct carrier {
  virtual ~carrier() = default;
  virtual long send(const std::uint8_t* p, std::size_t n) = 0;  // bytes taken (0: none now), -1: gone
  virtual long recv(std::uint8_t* p, std::size_t n) = 0;        // bytes given (0: none now), -1: gone
  virtual bool wait(bool for_send) = 0;
};

struct vchan_carrier final : carrier {
  libxenvchan* c;
  explicit vchan_carrier(libxenvchan* v) : c(v) { c->blocking = 0; }
  ~vchan_carrier() override { libxenvchan_close(c); }
  long send(const std::uint8_t* p, std::size_t n) override { return libxenvchan_write(c, p, n); }
  long recv(std::uint8_t* p, std::size_t n) override {
    if (!libxenvchan_is_open(c) && libxenvchan_data_ready(c) == 0) return -1;
    return libxenvchan_read(c, p, n);
  }
  bool wait(bool) override {
    pollfd f{libxenvchan_fd_for_select(c), POLLIN, 0};
    if (poll(&f, 1, 30000) <= 0) return false;
    return libxenvchan_wait(c) == 0 && libxenvchan_is_open(c);
  }
};

struct tcp_carrier final : carrier {
  int fd;
  explicit tcp_carrier(int s) : fd(s) {}
  ~tcp_carrier() override { close(fd); }
  long send(const std::uint8_t* p, std::size_t n) override {
    const ssize_t r = ::send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    return r >= 0 ? r : (errno == EAGAIN ? 0 : -1);
  }
  long recv(std::uint8_t* p, std::size_t n) override {
    const ssize_t r = ::recv(fd, p, n, MSG_DONTWAIT);
    return r > 0 ? r : r == 0 ? -1 : (errno == EAGAIN ? 0 : -1);
  }
  bool wait(bool for_send) override {
    pollfd f{fd, static_cast<short>(POLLIN | (for_send ? POLLOUT : 0)), 0};
    return poll(&f, 1, 30000) > 0;
  }
};

// Sends `total` pattern bytes and checks them back; seconds taken, or < 0.
double bulk(carrier& c, std::uint64_t total) {
  std::vector<std::uint8_t> out(65536), in(65536);
  std::uint64_t sent = 0, back = 0;
  const auto t0 = clock_type::now();
  while (back < total) {
    bool moved = false;
    if (sent < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), total - sent));
      for (std::size_t i = 0; i < n; ++i) out[i] = pattern(sent + i);
      const long w = c.send(out.data(), n);
      if (w < 0) return -1;
      sent += static_cast<std::uint64_t>(w);
      moved = moved || w > 0;
    }
    const long r = c.recv(in.data(), in.size());
    if (r < 0) return -1;
    for (long i = 0; i < r; ++i, ++back)
      if (in[static_cast<std::size_t>(i)] != pattern(back)) return -2;
    moved = moved || r > 0;
    if (!moved && !c.wait(sent < total)) return -1;
  }
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The median round trip of `rounds` 64-byte exchanges, in microseconds (< 0: failed).
double round_trips(carrier& c, int rounds) {
  std::vector<double> us;
  std::uint8_t msg[64], got[64];
  for (int k = 0; k < rounds; ++k) {
    for (std::size_t i = 0; i < sizeof msg; ++i) msg[i] = pattern(static_cast<std::uint64_t>(k) * 64 + i);
    const auto t0 = clock_type::now();
    std::size_t sent = 0, back = 0;
    while (back < sizeof got) {
      if (sent < sizeof msg) {
        const long w = c.send(msg + sent, sizeof msg - sent);
        if (w < 0) return -1;
        sent += static_cast<std::size_t>(w);
      }
      const long r = c.recv(got + back, sizeof got - back);
      if (r < 0) return -1;
      back += static_cast<std::size_t>(r);
      if (back < sizeof got && r == 0 && !c.wait(sent < sizeof msg)) return -1;
    }
    if (std::memcmp(msg, got, sizeof msg) != 0) return -2;
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s vchan DOMID XS-PATH BYTES ROUNDS | tcp ADDRESS PORT BYTES ROUNDS\n", argv[0]);
    return 2;
  }
  const std::string_view kind = argv[1];
  const std::uint64_t bytes = std::strtoull(argv[4], nullptr, 10);
  const int rounds = std::atoi(argv[5]);
  carrier* c = nullptr;
  if (kind == "vchan") {
    libxenvchan* v = libxenvchan_client_init(nullptr, std::atoi(argv[2]), argv[3]);
    if (!v) return std::perror("libxenvchan_client_init"), 1;
    c = new vchan_carrier(v);
  } else {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[3])));
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    const int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return std::perror("connect"), 1;
    c = new tcp_carrier(s);
  }
  const double rtt = round_trips(*c, rounds);
  const double secs = rtt >= 0 ? bulk(*c, bytes) : rtt;
  delete c;
  if (rtt < 0 || secs < 0) {
    std::printf("%.*s: %s: %s\n", static_cast<int>(kind.size()), kind.data(), rtt < 0 ? "round trips" : "bulk",
                rtt == -2 || secs == -2 ? "a byte came back changed" : "the peer went or stalled (30 s)");
    return 1;
  }
  std::printf("%.*s %llu bytes in %.3f s (%.2f MiB/s), round trip median %.0f us (%d rounds)\n",
              static_cast<int>(kind.size()), kind.data(), static_cast<unsigned long long>(bytes), secs,
              static_cast<double>(bytes) / secs / 1048576.0, rtt, rounds);
  return 0;
}
