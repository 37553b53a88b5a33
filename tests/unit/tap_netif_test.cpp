// uni::posix::BasicTapNetif: what the driver says of a received frame. Without
// virtio headers (BasicTapNetif<false>, or UNI_TAP_OFFLOAD=0) the kernel says
// nothing of a frame, so none may reach the stack marked checksum-verified: a UDP
// datagram with a bad checksum must be summed and dropped, not answered (on
// Asio's path such frames were marked, and tests/hostile's "udp" family got an
// ICMP port unreachable from dns-tap). Needs root: the TAP device lives in a
// network namespace of its own, and the frames are injected through an
// AF_PACKET socket on it, as a peer's would arrive.
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>  // before tap_netif.hpp's <linux/if.h>, which then leaves out what both define
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <uni/core/format.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/tap_netif.hpp>
#include <uni/posix/uring_loop.hpp>

#include "frames.hpp"

namespace {

using namespace std::chrono_literals;

constexpr char tap_name[] = "unicsum0";
constexpr uni::mac_address our_mac{{0x02, 0x00, 0x00, 0x88, 0x00, 0x02}};
constexpr uni::mac_address peer_mac{{0x02, 0x00, 0x00, 0x88, 0x00, 0x01}};

// This thread in a fresh network namespace while it lives; back in the old one after.
struct own_namespace {
  int old = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  bool entered = old >= 0 && ::unshare(CLONE_NEWNET) == 0;
  ~own_namespace() {
    if (entered) (void)::setns(old, CLONE_NEWNET);
    if (old >= 0) ::close(old);
  }
};

// Whether we are root, as these tests need (a TAP device in a network namespace); warns if not.
bool root() {
  if (::geteuid() == 0) return true;
  WARN("not run: needs root (a TAP device in a network namespace)");
  return false;
}

// Brings the interface up; its index, or 0 on failure.
unsigned link_up(const char* name) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  bool ok = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  ok = ok && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0 && ::ioctl(s, SIOCGIFINDEX, &ifr) == 0;
  if (s >= 0) ::close(s);
  return ok ? static_cast<unsigned>(ifr.ifr_ifindex) : 0;
}

// The TAP device up without IPv6, so that no chatter of the kernel's side (router
// and neighbour solicitations) comes between a test's counts; its index, or 0.
unsigned quiet_link_up() {
  std::ofstream(std::string("/proc/sys/net/ipv6/conf/") + tap_name + "/disable_ipv6") << "1\n";
  return link_up(tap_name);
}

// Sends `frame` out of the interface: the TAP's reader (the driver) receives it.
bool inject(int packet_socket, unsigned ifindex, const frames::bytes& frame) {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(ifindex);
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, our_mac.bytes.data(), 6);
  return ::sendto(packet_socket, frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(frame.size());
}

// A datagram to a closed port whose UDP checksum is wrong (the hostile suite's shape).
frames::bytes bad_checksum_datagram(std::uint16_t id) {
  const auto src = uni::ipv4_address::from_octets(10, 88, 0, 1);
  const auto dst = uni::ipv4_address::from_octets(10, 88, 0, 2);
  frames::bytes udp = frames::udp(src, dst, 40000, 9, frames::pattern(32));
  udp[6] ^= 0x5a;  // the checksum no longer matches
  return frames::ethernet(our_mac, peer_mac, 0x0800, frames::ipv4({src, dst, 17, id}, udp));
}

struct received {
  unsigned frames = 0;
  unsigned marked_verified = 0;
  std::uint64_t reads = 0;        // frames the driver read (the kernel's IPv6 chatter too)
  std::uint64_t completions = 0;  // the ring's (reads, cancels, cancelled reads)
  std::uint64_t read_calls = 0;   // read system calls of this thread over the frames (Asio's path)
};

// This thread's read system calls so far (read, readv: /proc's syscr), 0 if unknown.
std::uint64_t read_calls() {
  const int fd = ::open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[512] = {};
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  const char* at = n > 0 ? std::strstr(text, "syscr: ") : nullptr;
  return at ? std::strtoull(at + 7, nullptr, 10) : 0;
}

// Opens `loop` and makes it the clock's wait; false (said) if the kernel refuses it.
bool wait_on_ring(uni::posix::uring_loop& loop, uni::posix::PosixClock& clock) {
  char why_buf[120];
  uni::text_writer why{why_buf, sizeof why_buf};
  if (!loop.open(why)) {
    WARN("io_uring refused here: " << why.view());
    return false;
  }
  return clock.use_ring(loop);
}

// Injects `count` frames one at a time through BasicTapNetif<false> (on the
// clock's ring if `ring`), each read by a fresh wait, and counts what arrives.
received run(bool ring, unsigned count) {
  received got;
  static uni::static_page_pool<64> pool;
  boost::asio::io_context io;
  uni::posix::uring_loop loop;
  uni::posix::PosixClock clock(io);
  if (ring) REQUIRE(wait_on_ring(loop, clock));
  uni::posix::BasicTapNetif<false> tap(io, pool, our_mac);
  tap.use_ring(clock);
  REQUIRE(tap.open(tap_name));
  REQUIRE(tap.on_ring() == ring);
  auto receive = [&got](uni::view frame) {
    // Only ours: the kernel sends the new link's IPv6 chatter through the TAP too.
    if (frame.size() < 14 || std::memcmp(frame.data(), our_mac.bytes.data(), 6) != 0 ||
        uni::wire::load_be16(frame.data() + 12) != 0x0800)
      return;
    ++got.frames;
    if (frame.checksum_verified()) ++got.marked_verified;
  };
  tap.set_receiver(receive);
  const unsigned ifindex = link_up(tap_name);
  REQUIRE(ifindex != 0);
  const int ps = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  REQUIRE(ps >= 0);
  const std::uint64_t calls0 = read_calls();
  for (unsigned i = 0; i < count; ++i) {
    // Let the driver wait for the frame first (Asio's read is tried at once, then waits).
    clock.wait_until(clock.now() + 1ms);
    const unsigned before = got.frames;
    REQUIRE(inject(ps, ifindex, bad_checksum_datagram(static_cast<std::uint16_t>(i))));
    for (int turn = 0; turn < 200 && got.frames == before; ++turn) clock.wait_until(clock.now() + 10ms);
  }
  got.read_calls = read_calls() - calls0 - 1;  // less read_calls()'s own
  ::close(ps);
  got.reads = tap.statistics().rx_reads;
  got.completions = loop.statistics().completions;
  tap.close();
  return got;
}

}  // namespace

TEST_CASE("TAP without virtio headers: no received frame is marked checksum-verified", "[tap][offload]") {
  if (!root()) return;
  own_namespace ns;
  REQUIRE(ns.entered);
  SECTION("on Asio's epoll") {
    const received got = run(false, 3);
    CHECK(got.frames == 3);
    CHECK(got.marked_verified == 0);
  }
  SECTION("on io_uring") {
    const received got = run(true, 3);
    CHECK(got.frames == 3);
    CHECK(got.marked_verified == 0);
  }
}

// A lone frame (one, after a turn without any: request-reply traffic, ping)
// costs what it needs. On the ring: its posted read, and no plain read after it
// (the drain behind a posted read is for bursts only); the driver doubled its
// posted reads on such a frame and halved them on the next, so ping paid a second
// read, its wake-up and its cancel every echo (3 ring completions, 2 on average).
// On Asio's path: its read and Asio's try that finds the device empty; without
// virtio headers the driver could not tell whether that try had found a frame, so
// it took every frame for a burst and read once more in vain (ping-tap and dns-tap
// on Asio: 3 reads an echo). The slack allows for the kernel's IPv6 chatter.
TEST_CASE("TAP: a lone frame costs one ring completion, or two reads on Asio's epoll", "[tap]") {
  if (!root()) return;
  own_namespace ns;
  REQUIRE(ns.entered);
  SECTION("on io_uring") {
    const received got = run(true, 20);
    CHECK(got.frames == 20);
    CHECK(got.reads >= 20);
    CHECK(got.completions <= got.reads + 4);
    CHECK(got.read_calls <= 4);  // the posted read is the frame's: no plain read finds the device empty
  }
  SECTION("on Asio's epoll, without virtio headers") {
    const received got = run(false, 20);
    CHECK(got.frames == 20);
    CHECK(got.read_calls <= 2 * got.reads + 4);
  }
}

// On a ring one read stays posted (one pool page at the kernel): it wakes the
// loop, and a burst of frames behind it is drained with plain reads, as on Asio's
// path, not by a posted read per frame, which the kernel polls and completes by
// task work (the driver posted up to 32 such reads, each woken by every frame:
// a completion per frame, 200 for this burst).
TEST_CASE("TAP on io_uring: a burst is drained with plain reads behind one posted read", "[tap][uring]") {
  if (!root()) return;
  own_namespace ns;
  REQUIRE(ns.entered);
  using tap_netif = uni::posix::BasicTapNetif<false>;
  static uni::static_page_pool<64> pool;
  boost::asio::io_context io;
  uni::posix::uring_loop loop;
  uni::posix::PosixClock clock(io);
  if (!wait_on_ring(loop, clock)) return;
  tap_netif tap(io, pool, our_mac);
  tap.use_ring(clock);
  REQUIRE(tap.open(tap_name));
  unsigned frames = 0;
  auto receive = [&frames](uni::view frame) {
    if (frame.size() >= 14 && std::memcmp(frame.data(), our_mac.bytes.data(), 6) == 0) ++frames;
  };
  tap.set_receiver(receive);
  const unsigned ifindex = quiet_link_up();
  REQUIRE(ifindex != 0);
  const int ps = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  REQUIRE(ps >= 0);
  for (int turn = 0; turn < 20; ++turn) clock.wait_until(clock.now() + 1ms);
  CHECK(pool.statistics().in_use == 1);  // one read posted
  constexpr unsigned burst = 200;  // all waiting in the device before the driver's next turn
  for (unsigned i = 0; i < burst; ++i) REQUIRE(inject(ps, ifindex, bad_checksum_datagram(static_cast<std::uint16_t>(i))));
  const std::uint64_t completions0 = loop.statistics().completions;
  std::size_t most_in_use = 0;
  for (int turn = 0; turn < 400 && frames < burst; ++turn) {
    clock.wait_until(clock.now() + 1ms);
    most_in_use = std::max(most_in_use, pool.statistics().in_use);
  }
  const std::uint64_t completions = loop.statistics().completions - completions0;
  CHECK(frames == burst);
  CHECK(tap.statistics().rx_reads >= burst);
  CHECK(completions < burst / 10);  // a wake-up per batch of read_batch frames, about
  CHECK(most_in_use == 1);
  ::close(ps);
  tap.close();
}

// The receive offload end to end: a merged TCP frame (a GSO frame sent into the
// TAP through a packet socket with a virtio header, as the host's TCP hands over
// up to 64 KiB) reaches the stack as page-sized segments holding the frame's
// bytes in order. Read straight into pages (the first, then the tail pages: one
// segment a page, nothing copied), and, with the pool too low to give the tail
// pages, through the side buffer (every byte copied into pages).
TEST_CASE("TAP receive offload: a merged frame arrives as page segments, read into pages or through the side buffer", "[tap][offload]") {
  if (!root()) return;
  own_namespace ns;
  REQUIRE(ns.entered);
  static uni::static_page_pool<400> pool;
  boost::asio::io_context io;
  uni::posix::uring_loop loop;
  uni::posix::PosixClock clock(io);
  const bool ring = GENERATE(true, false);
  if (ring && !wait_on_ring(loop, clock)) return;
  uni::posix::BasicTapNetif<true> tap(io, pool, our_mac);
  tap.use_ring(clock);
  REQUIRE(tap.open(tap_name));
  REQUIRE(tap.on_ring() == ring);
  const auto src = uni::ipv4_address::from_octets(10, 88, 0, 1), dst = uni::ipv4_address::from_octets(10, 88, 0, 2);
  frames::bytes data;  // the bytes of the TCP stream, by sequence number from 1000
  std::size_t segments = 0, largest = 0;
  std::vector<uni::view> kept;  // segments held, as a receive queue holds them
  bool keep = false;
  auto receive = [&](uni::view frame) {
    if (frame.size() < 54 || std::memcmp(frame.data(), our_mac.bytes.data(), 6) != 0 || frame.data()[23] != 6) return;
    const frames::bytes f(frame.data(), frame.data() + frame.size());
    const std::uint32_t seq = frames::get32(f, 38);
    CHECK(frames::get16(f, 16) == f.size() - 14);  // each segment's own length
    CHECK(frame.checksum_verified());
    REQUIRE(seq >= 1000);
    if (data.size() < seq - 1000 + f.size() - 54) data.resize(seq - 1000 + f.size() - 54);
    std::copy(f.begin() + 54, f.end(), data.begin() + (seq - 1000));
    ++segments;
    largest = std::max(largest, f.size());
    if (keep) kept.push_back(std::move(frame));
  };
  tap.set_receiver(receive);
  const unsigned ifindex = quiet_link_up();
  REQUIRE(ifindex != 0);
  const int ps = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  REQUIRE(ps >= 0);
  const int one = 1;
  REQUIRE(::setsockopt(ps, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0);
  // [virtio_net_hdr: NEEDS_CSUM, GSO TCPv4, hdr_len 54, gso_size 1448, csum 34 + 16][frame]
  auto send_merged = [&](const frames::bytes& payload) {
    frames::tcp_fields t;
    t.sport = 40000;
    t.dport = 80;
    t.seq = 1000;
    t.ack = 1;
    t.flags = 0x18;
    const frames::bytes frame =
        frames::ethernet(our_mac, peer_mac, 0x0800, frames::ipv4({src, dst, 6, 7}, frames::tcp(src, dst, t, payload)));
    frames::bytes out = {1, 1, 54, 0, 0xa8, 0x05, 34, 0, 16, 0};  // little-endian fields
    out.insert(out.end(), frame.begin(), frame.end());
    return inject(ps, ifindex, out);  // (PACKET_VNET_HDR: the socket takes the header off)
  };
  const frames::bytes payload = frames::pattern(60000, 9);
  auto deliver_one = [&] {
    data.clear();
    segments = largest = 0;
    const std::uint64_t merged0 = tap.statistics().rx_gso_frames, copied0 = tap.statistics().rx_gso_copied;
    for (int turn = 0; turn < 20; ++turn) clock.wait_until(clock.now() + 1ms);
    REQUIRE(send_merged(payload));
    for (int turn = 0; turn < 400 && data.size() < payload.size(); ++turn) clock.wait_until(clock.now() + 1ms);
    CHECK(tap.statistics().rx_gso_frames == merged0 + 1);
    CHECK(data == payload);
    // Read into pages: a segment a page. Copied: segments that fill a page each.
    const bool copied = tap.statistics().rx_gso_copied != copied0;
    CHECK(segments == (copied ? (payload.size() + uni::page_size - 55) / (uni::page_size - 54)
                              : uni::offload::paged_pages(payload.size() + 54)));
    CHECK(largest <= uni::page_size);
  };
  SECTION("read into pages") {
    deliver_one();
    CHECK(tap.statistics().rx_gso_copied == 0);
  }
  SECTION("through the side buffer, the pool low") {
    // The pool near its reserve, and every segment held: once the tail pages a
    // frame took cannot be had again, the next frame goes through the side buffer.
    std::vector<uni::view> held;
    while (pool.available() > uni::posix::BasicTapNetif<true>::rx_reserve + 40) held.push_back(std::move(*pool.allocate_reserved()));
    keep = true;
    for (int frame = 0; frame < 4 && tap.statistics().rx_gso_copied == 0; ++frame) deliver_one();
    CHECK(tap.statistics().rx_gso_copied == 1);
    kept.clear();
    held.clear();
  }
  ::close(ps);
  tap.close();
  CHECK(pool.statistics().in_use == 0);
}
