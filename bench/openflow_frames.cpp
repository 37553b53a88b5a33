// bench/openflow_frames.cpp: a frame generator and sink for a switch under test.
// One thread holds two AF_PACKET sockets, each opened in a network namespace of
// its own (setns): it sends numbered IPv4/UDP frames out of one interface and
// counts those that come back in at the other, so what was lost is known without
// a second process or clock. Frames go in sendmmsg batches, at an offered rate
// (a batch when the schedule says so) or as fast as the socket takes them;
// the sink drains with recvmmsg between batches and for a grace period after.
//
//   bench_openflow_frames --from NS:DEV --to NS:DEV --dst-mac MAC [--size 60]
//                         [--rate FPS (0: as fast as possible)] [--seconds S]
//                         [--count N (0: no bound)] [--batch 32]
//
// --size counts the frame as the socket takes it, without the FCS: 60 is a
// 64-byte frame on the wire, 1514 a 1500-byte IP packet. Each frame: Ethernet to --dst-mac from the sending interface's MAC, IPv4 from
// 10.89.0.1 to 10.89.0.200 (an address nobody has, so the receiving host drops it
// without an answer), UDP port 9, and in the payload a tag, the sequence number
// and the time it was sent. Prints one line:
//   sent delivered lost-% offered-fps delivered-fps latency-p50-µs latency-p99-µs
// Latency is one way, send to receive on the same clock (the switch, both TAP
// queues and the two socket paths).
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::uint32_t tag = 0x756e6921;  // "uni!"
constexpr std::size_t max_batch = 256, min_frame = 60, max_frame = 1514;
constexpr std::size_t payload_at = 14 + 20 + 8;  // tag (4), sequence (4), time sent (8)

std::uint64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(t.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// An AF_PACKET socket bound to DEV inside namespace NS ("NS:DEV"; "-:DEV" is ours).
struct port_socket {
  int fd = -1;
  int ifindex = 0;
  std::array<std::uint8_t, 6> mac{};
};

port_socket open_port(std::string_view spec, bool receive) {
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos) {
    std::fprintf(stderr, "openflow_frames: '%.*s' is not NS:DEV\n", static_cast<int>(spec.size()), spec.data());
    std::exit(2);
  }
  const std::string ns(spec.substr(0, colon)), dev(spec.substr(colon + 1));
  const int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (ns != "-") {
    const int nsfd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) die(ns.c_str());
    close(nsfd);
  }
  port_socket p;
  p.fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, receive ? htons(ETH_P_ALL) : 0);
  if (p.fd < 0) die("socket(AF_PACKET)");
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev.c_str());
  if (ioctl(p.fd, SIOCGIFINDEX, &ifr) != 0) die(dev.c_str());
  p.ifindex = ifr.ifr_ifindex;
  if (ioctl(p.fd, SIOCGIFHWADDR, &ifr) != 0) die(dev.c_str());
  std::memcpy(p.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  sockaddr_ll at{};
  at.sll_family = AF_PACKET;
  at.sll_protocol = receive ? htons(ETH_P_ALL) : 0;
  at.sll_ifindex = p.ifindex;
  if (bind(p.fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) die("bind");
  if (receive) {
    const int big = 8 << 20;
    (void)setsockopt(p.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    const int in_only = 1;  // PACKET_IGNORE_OUTGOING: not what this host sends on it
    (void)setsockopt(p.fd, SOL_PACKET, 23, &in_only, sizeof in_only);
  }
  if (setns(home, CLONE_NEWNET) != 0) die("setns back");
  close(home);
  return p;
}

std::uint16_t checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// The frame's fixed part; the sequence number and time go in at send time.
void build(std::uint8_t* f, std::size_t size, const std::array<std::uint8_t, 6>& dst,
           const std::array<std::uint8_t, 6>& src) {
  std::memset(f, 0, size);
  std::memcpy(f, dst.data(), 6);
  std::memcpy(f + 6, src.data(), 6);
  put16(f + 12, 0x0800);
  std::uint8_t* ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 2, static_cast<std::uint16_t>(size - 14));
  ip[8] = 64;
  ip[9] = 17;
  const std::uint8_t from[4] = {10, 89, 0, 1}, to[4] = {10, 89, 0, 200};
  std::memcpy(ip + 12, from, 4);
  std::memcpy(ip + 16, to, 4);
  put16(ip + 10, checksum(ip, 20));
  std::uint8_t* udp = ip + 20;
  put16(udp, 40000);
  put16(udp + 2, 9);
  put16(udp + 4, static_cast<std::uint16_t>(size - 34));  // UDP checksum 0: none
  std::memcpy(f + payload_at, &tag, 4);
}

struct sink {
  port_socket port;
  std::uint64_t delivered = 0;
  std::vector<std::uint32_t> latency_ns;  // a sample of every frame, bounded
  std::array<std::array<std::uint8_t, 2048>, max_batch> bufs{};
  std::array<iovec, max_batch> iov{};
  std::array<mmsghdr, max_batch> msgs{};

  explicit sink(port_socket p) : port(p) {
    latency_ns.reserve(1 << 20);
    for (std::size_t i = 0; i < max_batch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
  // Takes what has come; the number of frames read.
  int drain() {
    const int n = recvmmsg(port.fd, msgs.data(), max_batch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return 0;
    const std::uint64_t t = now_ns();
    for (int i = 0; i < n; ++i) {
      const std::uint8_t* f = bufs[static_cast<std::size_t>(i)].data();
      std::uint32_t got_tag = 0;
      std::uint64_t sent_at = 0;
      if (msgs[static_cast<std::size_t>(i)].msg_len < payload_at + 16) continue;
      std::memcpy(&got_tag, f + payload_at, 4);
      if (got_tag != tag) continue;
      std::memcpy(&sent_at, f + payload_at + 8, 8);
      ++delivered;
      if (latency_ns.size() < latency_ns.capacity())
        latency_ns.push_back(static_cast<std::uint32_t>(std::min<std::uint64_t>(t - sent_at, UINT32_MAX)));
    }
    return n;
  }
};

std::array<std::uint8_t, 6> parse_mac(std::string_view s) {
  std::array<std::uint8_t, 6> m{};
  unsigned b[6];
  if (std::sscanf(std::string(s).c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) {
    std::fprintf(stderr, "openflow_frames: '%.*s' is not a MAC address\n", static_cast<int>(s.size()), s.data());
    std::exit(2);
  }
  for (int i = 0; i < 6; ++i) m[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(b[i]);
  return m;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view from, to, dst_mac;
  std::size_t size = 60, batch = 32;
  double rate = 0, seconds = 2;
  std::uint64_t count = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view k = argv[i], v = argv[i + 1];
    if (k == "--from") from = v;
    else if (k == "--to") to = v;
    else if (k == "--dst-mac") dst_mac = v;
    else if (k == "--size") size = std::strtoul(argv[i + 1], nullptr, 10);
    else if (k == "--rate") rate = std::strtod(argv[i + 1], nullptr);
    else if (k == "--seconds") seconds = std::strtod(argv[i + 1], nullptr);
    else if (k == "--count") count = std::strtoull(argv[i + 1], nullptr, 10);
    else if (k == "--batch") batch = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "openflow_frames: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (from.empty() || to.empty() || dst_mac.empty() || size < min_frame || size > max_frame || batch < 1 ||
      batch > max_batch) {
    std::fprintf(stderr,
                 "usage: bench_openflow_frames --from NS:DEV --to NS:DEV --dst-mac MAC [--size 60..1514] "
                 "[--rate FPS] [--seconds S] [--count N] [--batch 1..256]\n");
    return 2;
  }
  const port_socket out = open_port(from, false);
  sink in(open_port(to, true));
  while (in.drain() > 0) {
  }
  in.delivered = 0;
  in.latency_ns.clear();

  std::vector<std::array<std::uint8_t, max_frame>> frames(batch);
  std::array<iovec, max_batch> iov{};
  std::array<mmsghdr, max_batch> msgs{};
  sockaddr_ll dest{};
  dest.sll_family = AF_PACKET;
  dest.sll_ifindex = out.ifindex;
  dest.sll_halen = 6;
  const auto dst = parse_mac(dst_mac);
  std::memcpy(dest.sll_addr, dst.data(), 6);
  for (std::size_t i = 0; i < batch; ++i) {
    build(frames[i].data(), size, dst, out.mac);
    iov[i] = {frames[i].data(), size};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &dest;
    msgs[i].msg_hdr.msg_namelen = sizeof dest;
  }

  const std::uint64_t start = now_ns(), end = start + static_cast<std::uint64_t>(seconds * 1e9);
  const double gap_ns = rate > 0 ? 1e9 / rate : 0;
  std::uint64_t sent = 0;
  std::uint64_t t = start;
  while (t < end && (count == 0 || sent < count)) {
    // The frames the schedule owes by now, at most a batch.
    std::uint64_t due = batch;
    if (rate > 0) {
      const auto owed = static_cast<std::uint64_t>(static_cast<double>(t - start) / gap_ns) + 1;
      due = owed > sent ? std::min<std::uint64_t>(owed - sent, batch) : 0;
    }
    if (count) due = std::min(due, count - sent);
    if (due > 0) {
      const std::uint64_t stamp = now_ns();
      for (std::size_t i = 0; i < due; ++i) {
        const auto seq = static_cast<std::uint32_t>(sent + i);
        std::memcpy(frames[i].data() + payload_at + 4, &seq, 4);
        std::memcpy(frames[i].data() + payload_at + 8, &stamp, 8);
      }
      const int n = sendmmsg(out.fd, msgs.data(), static_cast<unsigned>(due), 0);
      if (n > 0) sent += static_cast<std::uint64_t>(n);  // else the socket's buffer is full: again after draining
    }
    in.drain();
    t = now_ns();
  }
  const std::uint64_t sending_ns = t - start;
  // What is still in the switch and the queues arrives within the grace period.
  for (std::uint64_t quiet_until = now_ns() + 200'000'000; now_ns() < quiet_until;)
    if (in.drain() == 0) usleep(1000);

  const double secs = static_cast<double>(sending_ns) / 1e9;
  const double lost = sent ? 100.0 * static_cast<double>(sent - std::min(sent, in.delivered)) / static_cast<double>(sent) : 0;
  std::printf("%llu %llu %.3f %.0f %.0f %.1f %.1f\n", static_cast<unsigned long long>(sent),
              static_cast<unsigned long long>(in.delivered), lost, static_cast<double>(sent) / secs,
              static_cast<double>(in.delivered) / secs, percentile(in.latency_ns, 0.5),
              percentile(in.latency_ns, 0.99));
  return 0;
}
