// Frame hooks (uni/net/frame_hooks.hpp): the application takes the frames the
// stack does not consume, by EtherType, by IP protocol and addressed to other
// stations, or every frame (a switch port), and sends raw frames; what nobody
// takes is dropped and counted as without hooks.
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/stack.hpp>

#include "frames.hpp"

using namespace uni;
using namespace frames;

namespace {
const ipv4_address us = ipv4_address::from_octets(10, 0, 0, 2);
const ipv4_address peer_ip = ipv4_address::from_octets(10, 0, 0, 1);
constexpr mac_address us_mac{{2, 0, 0, 0, 0, 2}};
constexpr mac_address peer_mac{{2, 0, 0, 0, 0, 1}};
constexpr mac_address other_mac{{2, 0, 0, 0, 0, 9}};
constexpr mac_address lldp_group{{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}};  // IEEE 802.1AB nearest bridge
constexpr std::uint16_t lldp = 0x88cc;
constexpr std::uint8_t gre = 47;

// A device the test hands frames to, in pages of its own, and that keeps what is sent.
struct inject_netif {
  frame_receiver receiver{};
  std::vector<bytes> sent{};

  mac_address mac() const noexcept { return us_mac; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(frame_receiver r) noexcept { receiver = r; }
  result<void> transmit(std::span<const view> frags) noexcept {
    bytes f(total_size(frags));
    gather(frags, f);
    sent.push_back(std::move(f));
    return {};
  }
};

template <class Config>
struct fixture {
  std::unique_ptr<static_page_pool<64>> pool = std::make_unique<static_page_pool<64>>();
  scheduler sched;
  sim::ManualClock clock;
  inject_netif nic;
  Stack<inject_netif, sim::ManualClock, Config> stack{nic, clock, sched, *pool, {{us, 24}, peer_ip, false}};

  fixture() {
    stack.start();
    nic.sent.clear();  // the gratuitous ARP
  }
  // Hands `frame` to the stack in a page of its own; returns where its bytes are.
  const std::uint8_t* inject(const bytes& frame) {
    view page = *pool->allocate();
    std::memcpy(page.data(), frame.data(), frame.size());
    nic.receiver(page.head(frame.size()));
    return page.data();
  }
  const auto& counters() const { return stack.statistics(); }
};

// What a frame handler was given.
struct frame_taker {
  std::vector<view> frames{};
  void operator()(view frame) { frames.push_back(std::move(frame)); }
};
// What a datagram handler was given.
struct datagram_taker {
  std::vector<ipv4_header> headers{};
  std::vector<bytes> payloads{};
  void operator()(const ipv4_header& h, view_chain payload) {
    headers.push_back(h);
    bytes b(payload.length());
    payload.copy_to(b);
    payloads.push_back(std::move(b));
  }
};

bytes as_bytes(const view& v) { return bytes(v.data(), v.data() + v.size()); }

struct no_transport_config : default_config {
  static constexpr bool udp = false;
  static constexpr bool tcp = false;
};
struct one_hook_config : default_config {
  static constexpr std::size_t frame_hooks = 1;
};
}  // namespace

TEST_CASE("Hooks: without a taker, unknown EtherTypes, other stations' frames and protocols drop as before",
          "[stack][hooks]") {
  fixture<default_config> f;
  f.inject(ethernet(us_mac, peer_mac, 0x86dd, pattern(40)));
  f.inject(ethernet(lldp_group, peer_mac, lldp, pattern(40)));
  f.inject(ethernet(other_mac, peer_mac, 0x0800, pattern(40)));
  f.inject(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, gre}, pattern(24))));
  const auto& c = f.counters();
  CHECK(c.ethernet.dropped_by(ethernet_drop::unsupported_type) == 1);
  CHECK(c.ethernet.dropped_by(ethernet_drop::not_for_us) == 2);
  CHECK(c.ipv4.dropped_by(ipv4_drop::unknown_protocol) == 1);
  CHECK(c.hooks.taken() == 0);
  CHECK(f.nic.sent.empty());
}

TEST_CASE("Hooks: an EtherType taker gets its frames, to us or to a group, as views of their pages",
          "[stack][hooks]") {
  fixture<default_config> f;
  frame_taker lldp_frames, ipv6_frames;
  auto h1 = f.stack.hook_ethertype(lldp, lldp_frames);
  auto h2 = f.stack.hook_ethertype(0x86dd, ipv6_frames);
  REQUIRE(h1.ok());
  REQUIRE(h2.ok());
  const bytes announce = ethernet(lldp_group, peer_mac, lldp, pattern(60));
  const std::uint8_t* page = f.inject(announce);
  f.inject(ethernet(us_mac, peer_mac, 0x86dd, pattern(40, 3)));
  f.inject(ethernet(other_mac, peer_mac, 0x86dd, pattern(40)));  // another station's: not taken
  REQUIRE(lldp_frames.frames.size() == 1);
  CHECK(lldp_frames.frames[0].data() == page);  // zero-copy: the page it arrived in
  CHECK(as_bytes(lldp_frames.frames[0]) == announce);
  REQUIRE(ipv6_frames.frames.size() == 1);
  CHECK(as_bytes(ipv6_frames.frames[0]) == ethernet(us_mac, peer_mac, 0x86dd, pattern(40, 3)));
  const auto& c = f.counters();
  CHECK(c.hooks.by_ethertype == 2);
  CHECK(c.ethernet.received == 3);
  CHECK(c.ethernet.dropped_by(ethernet_drop::unsupported_type) == 0);
  CHECK(c.ethernet.dropped_by(ethernet_drop::not_for_us) == 1);
}

TEST_CASE("Hooks: an IP protocol taker gets datagrams for us, reassembled", "[stack][hooks]") {
  fixture<default_config> f;
  datagram_taker tunnel;
  auto h = f.stack.hook_ip_protocol(gre, tunnel);
  REQUIRE(h.ok());
  f.inject(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, gre}, pattern(24))));
  // Two fragments of one datagram: the taker sees it once, whole.
  const bytes big = pattern(2000, 5);
  f.inject(ethernet(us_mac, peer_mac, 0x0800,
                    ipv4({peer_ip, us, gre, 0x99, 0x2000}, bytes(big.begin(), big.begin() + 1480))));
  f.inject(ethernet(us_mac, peer_mac, 0x0800,
                    ipv4({peer_ip, us, gre, 0x99, 1480 / 8}, bytes(big.begin() + 1480, big.end()))));
  // Not for us: dropped by IPv4 before any taker.
  f.inject(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, ipv4_address::from_octets(10, 0, 0, 7), gre}, pattern(8))));
  REQUIRE(tunnel.headers.size() == 2);
  CHECK(tunnel.headers[0].source == peer_ip);
  CHECK(tunnel.headers[0].protocol == gre);
  CHECK(tunnel.payloads[0] == pattern(24));
  CHECK(tunnel.payloads[1] == big);
  const auto& c = f.counters();
  CHECK(c.hooks.by_ip_protocol == 2);
  CHECK(c.ipv4.dropped_by(ipv4_drop::unknown_protocol) == 0);
  CHECK(c.ipv4.dropped_by(ipv4_drop::not_for_us) == 1);
}

TEST_CASE("Hooks: the other-stations taker gets frames for other MACs only", "[stack][hooks]") {
  fixture<default_config> f;
  frame_taker datapath;
  auto h = f.stack.hook_other_macs(datapath);
  REQUIRE(h.ok());
  const bytes passing = ethernet(other_mac, peer_mac, 0x0800, pattern(46));
  f.inject(passing);
  f.inject(ethernet(lldp_group, peer_mac, lldp, pattern(46)));  // a group no EtherType taker took
  f.inject(ethernet(us_mac, peer_mac, 0x86dd, pattern(46)));    // ours: not the datapath's
  REQUIRE(datapath.frames.size() == 2);
  CHECK(as_bytes(datapath.frames[0]) == passing);
  const auto& c = f.counters();
  CHECK(c.hooks.other_macs == 2);
  CHECK(c.ethernet.dropped_by(ethernet_drop::not_for_us) == 0);
  CHECK(c.ethernet.dropped_by(ethernet_drop::unsupported_type) == 1);
}

TEST_CASE("Hooks: the every-frame taker (a switch port) gets every frame before the stack, which consumes none",
          "[stack][hooks]") {
  fixture<default_config> f;
  frame_taker port, lldp_frames;
  auto h = f.stack.hook_every_frame(port);
  REQUIRE(h.ok());
  auto l = f.stack.hook_ethertype(lldp, lldp_frames);
  REQUIRE(l.ok());
  CHECK(f.stack.hook_every_frame(lldp_frames).err() == error::in_use);  // one port per stack
  const bytes who_has = ethernet(mac_address::broadcast(), peer_mac, 0x0806,
                                 arp(1, peer_mac, peer_ip, mac_address{}, us));
  const bytes ping = ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, 1}, icmp_echo(8, 1, 1, pattern(8))));
  const bytes passing = ethernet(other_mac, peer_mac, 0x0800, pattern(46));
  const bytes announce = ethernet(lldp_group, peer_mac, lldp, pattern(46));
  const std::uint8_t* page = f.inject(who_has);
  for (const bytes* b : {&ping, &passing, &announce}) f.inject(*b);
  f.inject(bytes(10, 0));  // a runt: not a frame, dropped before any hook
  // Taken whole, in the pages they came in; none reached ARP, IPv4 or another hook.
  REQUIRE(port.frames.size() == 4);
  CHECK(port.frames[0].data() == page);
  CHECK(as_bytes(port.frames[0]) == who_has);
  CHECK(as_bytes(port.frames[1]) == ping);
  CHECK(as_bytes(port.frames[2]) == passing);
  CHECK(as_bytes(port.frames[3]) == announce);
  CHECK(lldp_frames.frames.empty());
  CHECK(f.nic.sent.empty());  // no ARP reply, no echo reply
  const auto& c = f.counters();
  CHECK(c.ethernet.received == 4);
  CHECK(c.ethernet.dropped_by(ethernet_drop::truncated) == 1);
  CHECK(c.ethernet.dropped_total() == 1);
  CHECK(c.hooks.every_frame == 4);
  CHECK(c.hooks.taken() == 4);
  CHECK(c.arp.received == 0);
  CHECK(c.ipv4.received == 0);

  // Once the port lets go, the stack consumes its frames again: the same
  // request is answered, the ping too, and LLDP goes to its taker.
  h->close();
  f.inject(who_has);
  f.inject(ping);
  f.inject(announce);
  CHECK(port.frames.size() == 4);
  REQUIRE(f.nic.sent.size() == 2);
  CHECK(get16(f.nic.sent[0], 12) == 0x0806);
  CHECK(get16(f.nic.sent[0], 20) == 2);  // an ARP reply
  CHECK(get16(f.nic.sent[1], 12) == 0x0800);
  CHECK(f.nic.sent[1][34] == 0);  // an ICMP echo reply
  CHECK(lldp_frames.frames.size() == 1);
  CHECK(c.hooks.every_frame == 4);
  CHECK(c.hooks.by_ethertype == 1);
  CHECK(c.arp.received == 1);
  CHECK(c.ipv4.received == 1);
  port.frames.clear();  // their pages back before the pool goes
  lldp_frames.frames.clear();
}

TEST_CASE("Hooks: a closed hook takes nothing more, and its key can be taken again", "[stack][hooks]") {
  fixture<default_config> f;
  frame_taker first, second;
  datagram_taker tunnel;
  auto h = f.stack.hook_ethertype(lldp, first);
  REQUIRE(h.ok());
  CHECK(f.stack.hook_ethertype(lldp, second).err() == error::in_use);
  const bytes frame = ethernet(lldp_group, peer_mac, lldp, pattern(46));
  f.inject(frame);
  h->close();
  f.inject(frame);
  CHECK(first.frames.size() == 1);
  CHECK(f.counters().ethernet.dropped_by(ethernet_drop::not_for_us) == 1);
  {
    auto again = f.stack.hook_ethertype(lldp, second);
    REQUIRE(again.ok());
    f.inject(frame);
    CHECK(second.frames.size() == 1);
  }  // destroyed: closed
  f.inject(frame);
  CHECK(second.frames.size() == 1);
  {
    auto t = f.stack.hook_ip_protocol(gre, tunnel);
    REQUIRE(t.ok());
  }
  f.inject(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, gre}, pattern(8))));
  CHECK(tunnel.headers.empty());
  CHECK(f.counters().ipv4.dropped_by(ipv4_drop::unknown_protocol) == 1);
  CHECK(f.counters().hooks.by_ethertype == 2);
}

TEST_CASE("Hooks: what the stack consumes cannot be taken, and the table is bounded", "[stack][hooks]") {
  frame_taker t;
  datagram_taker d;
  fixture<default_config> f;
  CHECK(f.stack.hook_ethertype(0x0800, t).err() == error::invalid_argument);
  CHECK(f.stack.hook_ethertype(0x0806, t).err() == error::invalid_argument);
  CHECK(f.stack.hook_ethertype(0x05dc, t).err() == error::invalid_argument);  // an 802.3 length
  for (std::uint8_t p : {1, 6, 17}) CHECK(f.stack.hook_ip_protocol(p, d).err() == error::invalid_argument);

  // Without UDP and TCP in the Config, their protocols are free to take.
  fixture<no_transport_config> bare;
  auto h = bare.stack.hook_ip_protocol(17, d);
  REQUIRE(h.ok());
  bare.inject(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, 17}, udp(peer_ip, us, 9, 9, pattern(4)))));
  CHECK(d.headers.size() == 1);
  CHECK(bare.stack.hook_ip_protocol(1, d).err() == error::invalid_argument);

  fixture<one_hook_config> small;
  auto only = small.stack.hook_other_macs(t);
  REQUIRE(only.ok());
  CHECK(small.stack.hook_ethertype(lldp, t).err() == error::table_full);
  only->close();
  CHECK(small.stack.hook_ethertype(lldp, t).ok());
}

TEST_CASE("Hooks: send_frame sends a raw frame, counted, and refuses runts and giants", "[stack][hooks]") {
  fixture<default_config> f;
  const bytes frame = ethernet(lldp_group, us_mac, lldp, pattern(60));
  auto page = *f.pool->allocate();
  std::memcpy(page.data(), frame.data(), frame.size());
  const std::uint64_t sent_before = f.counters().ethernet.sent;  // the gratuitous ARP
  REQUIRE(f.stack.send_frame(page.head(frame.size())).ok());
  REQUIRE(f.nic.sent.size() == 1);
  CHECK(f.nic.sent[0] == frame);
  CHECK(f.counters().hooks.sent == 1);
  CHECK(f.counters().ethernet.sent == sent_before + 1);
  CHECK(f.stack.send_frame(page.head(13)).err() == error::invalid_argument);
  CHECK(f.stack.send_frame(page.head(1515)).err() == error::too_large);
  CHECK(f.nic.sent.size() == 1);
}

TEST_CASE("Hooks: two stacks on a link speak a protocol neither knows (LLDP-like)", "[stack][hooks]") {
  auto pool = std::make_unique<static_page_pool<128>>();
  scheduler sched;
  sim::ManualClock clock;
  sim::sim_link link{*pool, clock, 1, sim::impairment{.delay_min = 10us, .delay_max = 10us}};
  Stack<sim::SimNetif, sim::ManualClock> a{link.a(), clock, sched, *pool, {{us, 24}, peer_ip, false}};
  Stack<sim::SimNetif, sim::ManualClock> b{link.b(), clock, sched, *pool, {{peer_ip, 24}, us, false}};
  a.start();
  b.start();
  frame_taker heard;
  auto h = b.hook_ethertype(lldp, heard);
  REQUIRE(h.ok());
  const bytes frame = ethernet(lldp_group, link.a().mac(), lldp, pattern(50));
  auto page = *pool->allocate();
  std::memcpy(page.data(), frame.data(), frame.size());
  REQUIRE(a.send_frame(page.head(frame.size())).ok());
  auto wait = [&]() -> task<void> { co_await sched.sleep_for(1ms); };
  REQUIRE(run(sched, clock, wait()).ok());
  REQUIRE(heard.frames.size() == 1);
  CHECK(as_bytes(heard.frames[0]) == frame);
  CHECK(b.statistics().hooks.by_ethertype == 1);
  heard.frames.clear();  // its pages back before the pool goes
}
