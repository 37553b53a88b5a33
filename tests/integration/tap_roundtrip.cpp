// TAP round trip: proves that frames cross a Linux TAP device both ways through
// uni::posix::TapNetif, with the Linux kernel as the peer.
//   kernel -> uni: `ping 10.77.0.2` makes the kernel ARP for 10.77.0.2 on the TAP;
//                  the ARP request must arrive through TapNetif's receiver.
//   uni -> kernel: we answer with an ARP reply sent as two fragments (Ethernet
//                  header + ARP body, in different pages: one writev); the kernel
//                  must then list 10.77.0.2 at our MAC (`ip neigh`) and send ping's
//                  queued ICMP echo request to us.
// Run inside a network namespace where the TAP exists, has 10.77.0.1/24 and is up
// (tap_roundtrip.sh does that). Exit status: 0 pass, 1 fail, 77 skip (not root).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string>

#include <uni/core/run.hpp>
#include <uni/core/wire.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/pcap.hpp>
#include <uni/posix/tap_netif.hpp>
#include <uni/posix/uring_loop.hpp>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using uni::wire::load_be16;
using uni::wire::store_be16;

constexpr uni::mac_address our_mac{{0x02, 0x00, 0x00, 0x77, 0x00, 0x02}};
constexpr std::array<std::uint8_t, 4> our_ip{10, 77, 0, 2};
constexpr std::size_t eth_len = 14, arp_len = 28;
constexpr std::uint16_t ethertype_arp = 0x0806, ethertype_ipv4 = 0x0800;

struct ip4_text {  // "10.77.0.2" for log lines
  char s[16];
  explicit ip4_text(const std::uint8_t* p) { std::snprintf(s, sizeof s, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]); }
};

uni::mac_address mac_at(const std::uint8_t* p) {
  uni::mac_address m;
  std::memcpy(m.bytes.data(), p, 6);
  return m;
}

// Frames from the receiver, consumed by the test task.
struct inbox {
  std::deque<uni::view> frames;
  uni::wait_queue arrived;

  // The next frame, or an empty view if none came before `deadline`.
  uni::task<uni::view> next(uni::time_point deadline) {
    while (frames.empty()) {
      if (co_await arrived.wait_until(deadline) != uni::wake_reason::notified) co_return uni::view{};
    }
    uni::view f = std::move(frames.front());
    frames.pop_front();
    co_return f;
  }
};

bool is_arp_request_for_us(const uni::view& f) {
  if (f.size() < eth_len + arp_len || load_be16(f.data() + 12) != ethertype_arp) return false;
  const std::uint8_t* a = f.data() + eth_len;
  return load_be16(a + 0) == 1 && load_be16(a + 2) == ethertype_ipv4 && a[4] == 6 && a[5] == 4 &&
         load_be16(a + 6) == 1 && std::memcmp(a + 24, our_ip.data(), 4) == 0;
}

bool is_icmp_echo_to_us(const uni::view& f) {
  if (f.size() < eth_len + 20 || load_be16(f.data() + 12) != ethertype_ipv4) return false;
  if (mac_at(f.data()) != our_mac) return false;
  const std::uint8_t* ip = f.data() + eth_len;
  const std::size_t ihl = (ip[0] & 0x0fu) * 4u;
  if ((ip[0] >> 4) != 4 || ihl < 20 || f.size() < eth_len + ihl + 8) return false;
  return ip[9] == 1 && std::memcmp(ip + 16, our_ip.data(), 4) == 0 && ip[ihl] == 8;
}

void describe(const uni::view& f) {
  if (f.size() < eth_len) return uni::log_info("rx: runt frame of ", f.size(), " bytes");
  const std::uint16_t type = load_be16(f.data() + 12);
  uni::log_info("rx: ", f.size(), " bytes ", mac_at(f.data() + 6), " -> ", mac_at(f.data()), " type ",
                uni::hex(type, 4));
}

// ARP reply "our_ip is at our_mac" to `request`, as two fragments in two pages.
uni::result<void> send_arp_reply(uni::posix::TapNetif& tap, uni::page_pool& pool, const uni::view& request) {
  auto eth_page = pool.allocate();
  auto arp_page = pool.allocate();
  if (!eth_page || !arp_page) return uni::fail(uni::error::no_buffers);
  const std::uint8_t* req = request.data() + eth_len;
  const std::uint8_t* peer_mac = req + 8;
  const std::uint8_t* peer_ip = req + 14;

  uni::view eth = eth_page->head(eth_len);
  std::memcpy(eth.data(), peer_mac, 6);
  std::memcpy(eth.data() + 6, our_mac.bytes.data(), 6);
  store_be16(eth.data() + 12, ethertype_arp);

  uni::view arp = arp_page->head(arp_len);
  std::uint8_t* a = arp.data();
  store_be16(a + 0, 1);               // hardware: Ethernet
  store_be16(a + 2, ethertype_ipv4);  // protocol: IPv4
  a[4] = 6;
  a[5] = 4;
  store_be16(a + 6, 2);  // reply
  std::memcpy(a + 8, our_mac.bytes.data(), 6);
  std::memcpy(a + 14, our_ip.data(), 4);
  std::memcpy(a + 18, peer_mac, 6);
  std::memcpy(a + 24, peer_ip, 4);

  const std::array<uni::view, 2> frags{std::move(eth), std::move(arp)};
  return tap.transmit(frags);
}

// The kernel's neighbour entry for our_ip, as `ip neigh` prints it.
std::string neighbour_entry() {
  std::string out;
  if (std::FILE* p = ::popen("ip neigh show 10.77.0.2", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, p)) out += line;
    ::pclose(p);
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

uni::task<int> round_trip(uni::scheduler& s, uni::posix::TapNetif& tap, uni::page_pool& pool, inbox& in) {
  const uni::time_point deadline = s.now() + 4s;

  // (a) kernel -> uni: the ARP request for 10.77.0.2.
  uni::view request;
  for (;;) {
    uni::view f = co_await in.next(deadline);
    if (f.empty()) {
      uni::log_error("FAIL: no ARP request for 10.77.0.2 arrived through the TAP");
      co_return 1;
    }
    describe(f);
    if (is_arp_request_for_us(f)) {
      request = std::move(f);
      break;
    }
  }
  const std::uint8_t* req = request.data() + eth_len;
  uni::log_info("ok: ARP request who-has ", ip4_text(req + 24).s, " tell ", ip4_text(req + 14).s, " (",
                mac_at(req + 8), ")");

  // (b) uni -> kernel: our reply, scatter-gather.
  if (auto r = send_arp_reply(tap, pool, request); !r) {
    uni::log_error("FAIL: transmitting the ARP reply: ", uni::to_string(r.err()));
    co_return 1;
  }
  uni::log_info("tx: ARP reply ", ip4_text(our_ip.data()).s, " is-at ", our_mac, " (2 fragments)");

  // The kernel's answer: ping's echo request, now that it knows where 10.77.0.2 is.
  for (;;) {
    uni::view f = co_await in.next(deadline);
    if (f.empty()) {
      uni::log_error("FAIL: no ICMP echo request to 10.77.0.2 arrived after our ARP reply");
      co_return 1;
    }
    describe(f);
    if (is_icmp_echo_to_us(f)) break;
  }
  uni::log_info("ok: ICMP echo request to ", ip4_text(our_ip.data()).s, " addressed to our MAC");

  const std::string neigh = neighbour_entry();
  uni::log_info("ip neigh: ", neigh.c_str());
  if (neigh.find("lladdr 02:00:00:77:00:02") == std::string::npos) {
    uni::log_error("FAIL: the kernel's neighbour table does not map 10.77.0.2 to our MAC");
    co_return 1;
  }
  uni::log_info("ok: kernel neighbour table maps 10.77.0.2 to ", our_mac);
  co_return 0;
}

int usage() {
  std::fprintf(stderr, "usage: uni_tap_roundtrip --tap NAME [--pcap FILE]\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ifname, pcap_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tap" && i + 1 < argc) ifname = argv[++i];
    else if (arg == "--pcap" && i + 1 < argc) pcap_path = argv[++i];
    else return usage();
  }
  if (ifname.empty()) return usage();
  if (::geteuid() != 0) {
    std::printf("SKIP: needs root (network namespaces and TAP devices)\n");
    return 77;
  }
  uni::posix::install_console();

  static uni::static_page_pool<64> pool;  // 256 KiB: static, not on the stack
  boost::asio::io_context io;
  uni::posix::uring_loop ring;  // the wait, as a TAP appliance's, unless UNI_URING=0 or the kernel refuses it
  uni::posix::PosixClock clock(io);
  char why_buf[120];
  uni::text_writer why{why_buf, sizeof why_buf};
  if (uni::posix::uring_loop::wanted() && ring.open(why)) clock.use_ring(ring);
  uni::scheduler sched;
  uni::posix::pcap_writer pcap;
  inbox in{{}, uni::wait_queue(sched)};
  auto receive = [&in](uni::view frame) {
    if (in.frames.size() < 16) in.frames.push_back(std::move(frame));  // bounded: the pool is small
    in.arrived.notify_all();
  };

  uni::posix::TapNetif tap(io, pool, our_mac);
  tap.use_ring(clock);
  if (auto r = tap.open(ifname); !r) {
    std::fprintf(stderr, "FAIL: %s\n", tap.error_message().c_str());
    return 1;
  }
  tap.set_receiver(receive);
  if (!pcap_path.empty() && pcap.open(pcap_path)) tap.record_to(&pcap);
  uni::log_info("attached to TAP ", tap.name().c_str(), " as ", our_mac, tap.on_ring() ? ", on io_uring" : ", on Asio: ",
                 why.view());

  // The kernel's trigger: one ping, whose ARP request and echo request we expect.
  char arg0[] = "ping", arg1[] = "-c1", arg2[] = "-W2", arg3[] = "10.77.0.2";
  char* ping_argv[] = {arg0, arg1, arg2, arg3, nullptr};
  pid_t ping = -1;
  posix_spawnattr_t attr;  // the ring blocks the signals it forwards: not the child's
  ::posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  const int spawned = ::posix_spawnp(&ping, "ping", nullptr, &attr, ping_argv, environ);
  ::posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    std::fprintf(stderr, "FAIL: cannot run ping\n");
    return 1;
  }

  auto r = uni::run(sched, clock, uni::with_timeout(sched, 5s, round_trip(sched, tap, pool, in)));

  ::kill(ping, SIGTERM);  // it waits for an echo reply that never comes
  ::waitpid(ping, nullptr, 0);
  in.frames.clear();

  const auto& st = tap.statistics();
  uni::log_info("tap: rx ", st.rx_frames, " tx ", st.tx_frames, " tx errors ", st.tx_errors);
  if (!r) {
    uni::log_error("FAIL: ", uni::to_string(r.err()));
    return 1;
  }
  if (*r == 0) std::printf("PASS: frames crossed the TAP both ways\n");
  return *r;
}
