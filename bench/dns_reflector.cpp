// bench/dns_reflector.cpp: the ceiling of a path, for bench/dns.sh. A "server"
// that does no DNS work: it returns every query to its sender as its own answer
// (QR and AA set, the question echoed, no records), which dnsperf counts as an
// answer. What dnsperf on one core gets from it is the most any server can get on
// that path with that load generator, so each server's rate is read against it.
//
//   dns_reflector --tap IF --ipv4 A.B.C.D   raw frames on a TAP device, one read and
//                                           one write per query, reading all that is
//                                           queued (up to 64) before answering, with
//                                           the offloads uni takes (virtio headers,
//                                           TUN_F_CSUM); ARP for A.B.C.D
//   dns_reflector --udp A.B.C.D             a kernel UDP socket on port 53, in batches
//                                           of 32 (recvmmsg, sendmmsg)
//
// It runs until killed. Not a test and not uni: plain Linux system calls.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace {

constexpr std::size_t dns_header = 12;

// The DNS message becomes its own answer; false if it is not a query.
bool reflect(std::uint8_t* dns, std::size_t n) {
  if (n < dns_header || (dns[2] & 0x80) != 0) return false;
  dns[2] |= 0x84;  // QR, AA
  return true;
}

using frame = std::array<std::uint8_t, 2048>;

// Turns the frame of `n` bytes into its answer in place: an ARP reply if it asks
// for `ip`, or the DNS query to port 53 reflected. False if it gets none.
bool answer(frame& f, std::size_t n, const std::array<std::uint8_t, 4>& ip, const std::array<std::uint8_t, 6>& mac) {
  if (n < 42) return false;
  if (f[12] == 0x08 && f[13] == 0x06) {  // ARP
    if (f[21] != 1 || std::memcmp(&f[38], ip.data(), 4) != 0) return false;
    std::memcpy(&f[0], &f[6], 6);
    std::memcpy(&f[6], mac.data(), 6);
    f[21] = 2;
    std::memcpy(&f[32], &f[22], 10);  // the asker becomes the target
    std::memcpy(&f[22], mac.data(), 6);
    std::memcpy(&f[28], ip.data(), 4);
    return true;
  }
  if (f[12] != 0x08 || f[13] != 0x00 || f[23] != 17) return false;  // IPv4 UDP only
  const std::size_t udp = 14 + std::size_t{f[14] & 0x0fu} * 4;
  if (udp + 8 > n || f[udp + 2] != 0 || f[udp + 3] != 53 || !reflect(&f[udp + 8], n - udp - 8)) return false;
  // Swapping both addresses and both ports leaves the IPv4 checksum right; the
  // UDP one is dropped (zero: none, allowed over IPv4).
  const auto swap = [&](std::size_t a, std::size_t b, std::size_t len) {
    std::array<std::uint8_t, 6> t;
    std::memcpy(t.data(), &f[a], len);
    std::memcpy(&f[a], &f[b], len);
    std::memcpy(&f[b], t.data(), len);
  };
  swap(0, 6, 6);
  swap(26, 30, 4);
  swap(udp, udp + 2, 2);
  f[udp + 6] = f[udp + 7] = 0;
  return true;
}

int serve_tap(const char* ifname, const char* ipv4) {
  std::array<std::uint8_t, 4> ip{};
  if (inet_pton(AF_INET, ipv4, ip.data()) != 1) return std::fprintf(stderr, "bad address %s\n", ipv4), 2;
  const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) return std::perror("TAP device"), 1;
  // The host's stack may then leave the checksums of what it sends to us undone.
  if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0) return std::perror("TUNSETOFFLOAD"), 1;
  std::array<std::uint8_t, 10> virtio_header{};  // struct virtio_net_hdr: ours is all zero
  const std::array<std::uint8_t, 6> mac{0x02, 0x52, 0x45, 0x46, 0x4c, 0x54};
  constexpr std::size_t batch = 64;
  static std::array<frame, batch> frames;
  std::array<std::size_t, batch> sizes;
  while (true) {
    std::size_t got = 0;
    while (got < batch) {
      const iovec in[2] = {{virtio_header.data(), virtio_header.size()}, {frames[got].data(), frames[got].size()}};
      const ssize_t r = readv(fd, in, 2);
      if (r < 0 && errno == EAGAIN) break;
      if (r < 0) return std::perror("read"), 1;
      if (static_cast<std::size_t>(r) < virtio_header.size()) continue;
      sizes[got] = static_cast<std::size_t>(r) - virtio_header.size();
      if (answer(frames[got], sizes[got], ip, mac)) ++got;
    }
    virtio_header = {};
    for (std::size_t i = 0; i < got; ++i) {
      const iovec out[2] = {{virtio_header.data(), virtio_header.size()}, {frames[i].data(), sizes[i]}};
      (void)!writev(fd, out, 2);
    }
    if (got < batch) {
      pollfd p{fd, POLLIN, 0};
      (void)poll(&p, 1, -1);
    }
  }
}

int serve_udp(const char* ipv4) {
  constexpr unsigned batch = 32;
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(53);
  if (inet_pton(AF_INET, ipv4, &at.sin_addr) != 1) return std::fprintf(stderr, "bad address %s\n", ipv4), 2;
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0) return std::perror("UDP socket"), 1;
  static std::array<std::array<std::uint8_t, 1500>, batch> buf;
  std::array<sockaddr_in, batch> from;
  std::array<iovec, batch> iov;
  std::array<mmsghdr, batch> m;
  while (true) {
    for (unsigned i = 0; i < batch; ++i) {
      iov[i] = iovec{buf[i].data(), buf[i].size()};
      m[i] = mmsghdr{};
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_name = &from[i];
      m[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    const int got = recvmmsg(s, m.data(), batch, MSG_WAITFORONE, nullptr);
    if (got < 0) return std::perror("recvmmsg"), 1;
    unsigned out = 0;
    for (unsigned i = 0; i < static_cast<unsigned>(got); ++i) {
      if (!reflect(buf[i].data(), m[i].msg_len)) continue;
      iov[i].iov_len = m[i].msg_len;
      m[out++] = m[i];
    }
    for (unsigned sent = 0; sent < out;) {
      const int r = sendmmsg(s, m.data() + sent, out - sent, 0);
      if (r <= 0) break;  // dropped, as a full device would
      sent += static_cast<unsigned>(r);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "--tap" && argc == 5 && std::string_view(argv[3]) == "--ipv4") return serve_tap(argv[2], argv[4]);
  if (mode == "--udp" && argc == 3) return serve_udp(argv[2]);
  std::fprintf(stderr, "usage: dns_reflector --tap IF --ipv4 A.B.C.D | --udp A.B.C.D\n");
  return 2;
}
