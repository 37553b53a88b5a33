// The stack below TCP against hand-built frames on a simulated link: one
// scenario per rule of the RFCs, asserting the exact frames the stack emits.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <uni/core/run.hpp>
#include <uni/stack.hpp>

#include "frames.hpp"

using namespace uni;
using namespace frames;

namespace {
const ipv4_address us = ipv4_address::from_octets(10, 0, 0, 2);
const ipv4_address peer_ip = ipv4_address::from_octets(10, 0, 0, 1);
const ipv4_address far_ip = ipv4_address::from_octets(192, 0, 2, 9);

struct fixture {
  std::unique_ptr<static_page_pool<512>> pool = std::make_unique<static_page_pool<512>>();
  scheduler sched;
  ManualClock clock;
  sim_link link{*pool, clock, 1, sim::impairment{.delay_min = 10us, .delay_max = 10us}};
  Stack<SimNetif, ManualClock> stack{link.a(), clock, sched, *pool, {{us, 24}, peer_ip, false}};
  raw_peer peer{link.b(), *pool};
  mac_address us_mac = link.a().mac();
  mac_address peer_mac = link.b().mac();

  fixture() {
    peer.attach();
    stack.start();
    settle();
    peer.received.clear();  // the gratuitous ARP
  }
  // Runs the scheduler and the link for `d` of simulated time.
  void settle(duration d = 1ms) {
    auto wait = [&]() -> task<void> { co_await sched.sleep_for(d); };
    REQUIRE(run(sched, clock, wait()).ok());
  }
  void send_ip(const ip_fields& f, const bytes& payload) { peer.send(ethernet(us_mac, peer_mac, 0x0800, ipv4(f, payload))); }
  void teach_arp() {
    peer.send(ethernet(mac_address::broadcast(), peer_mac, 0x0806, arp(1, peer_mac, peer_ip, {}, us)));
    settle();
    peer.received.clear();
  }
};
}  // namespace

TEST_CASE("RFC 5227: the stack announces its address with a gratuitous ARP at start", "[stack][arp]") {
  auto pool = std::make_unique<static_page_pool<64>>();
  scheduler sched;
  ManualClock clock;
  sim_link link{*pool, clock, 1};
  raw_peer peer{link.b(), *pool};
  peer.attach();
  Stack<SimNetif, ManualClock> stack{link.a(), clock, sched, *pool, {{us, 24}, peer_ip, false}};
  stack.start();
  clock.advance(1ms);
  auto got = peer.take(0x0806);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ethernet(mac_address::broadcast(), link.a().mac(), 0x0806, arp(1, link.a().mac(), us, {}, us)));
}

TEST_CASE("RFC 826: a request for our address is answered and its sender learned", "[stack][arp]") {
  fixture f;
  f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0806, arp(1, f.peer_mac, peer_ip, {}, us)));
  f.settle();
  auto got = f.peer.take(0x0806);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ethernet(f.peer_mac, f.us_mac, 0x0806, arp(2, f.us_mac, us, f.peer_mac, peer_ip)));
  CHECK(f.stack.arp_entries() == 1);
}

TEST_CASE("RFC 826: a request for another address is not answered", "[stack][arp]") {
  fixture f;
  f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0806,
                       arp(1, f.peer_mac, peer_ip, {}, ipv4_address::from_octets(10, 0, 0, 3))));
  f.settle();
  CHECK(f.peer.received.empty());
  CHECK(f.stack.statistics().arp.dropped_by(arp_drop::not_for_us) == 1);
  CHECK(f.stack.arp_entries() == 0);
}

TEST_CASE("ARP: malformed packets (wrong hardware type, short) are dropped and counted", "[stack][arp]") {
  fixture f;
  bytes bad = arp(1, f.peer_mac, peer_ip, {}, us);
  bad[1] = 6;  // hardware type 6 (IEEE 802)
  f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0806, bad));
  bytes shortened = arp(1, f.peer_mac, peer_ip, {}, us);
  shortened.resize(27);
  f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0806, shortened));
  f.settle();
  CHECK(f.peer.received.empty());
  CHECK(f.stack.statistics().arp.dropped_by(arp_drop::malformed) == 2);
}

// Found by tests/fuzz/arp_fuzz: a packet waiting on ARP went to the Ethernet
// broadcast address because a reply said its next hop was there.
TEST_CASE("ARP: a reply giving a broadcast MAC is not believed (fuzz regression)", "[stack][arp]") {
  fixture f;
  const ipv4_address other = ipv4_address::from_octets(10, 0, 0, 8);
  const bytes data = pattern(10);
  const view payload = view::unowned(std::span<const std::uint8_t>(data));
  REQUIRE(f.stack.ip_send(other, ip_protocol::udp, std::span<const view>(&payload, 1)).ok());
  f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0806, arp(2, mac_address::broadcast(), other, f.us_mac, us)));
  f.settle();
  CHECK(f.peer.take(0x0800).empty());
  CHECK(f.stack.pending_packets() == 1);
  CHECK(f.stack.statistics().arp.dropped_by(arp_drop::malformed) == 1);
}

TEST_CASE("Ethernet: frames for other MACs, unknown types and runts are dropped", "[stack][ethernet]") {
  fixture f;
  f.peer.send(ethernet(mac_address{{2, 9, 9, 9, 9, 9}}, f.peer_mac, 0x0800, pattern(40)));
  f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x86dd, pattern(40)));
  f.peer.send(bytes{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13});
  f.settle();
  const auto& c = f.stack.statistics().ethernet;
  CHECK(c.dropped_by(ethernet_drop::not_for_us) == 1);
  CHECK(c.dropped_by(ethernet_drop::unsupported_type) == 1);
  CHECK(c.dropped_by(ethernet_drop::truncated) == 1);
}

TEST_CASE("RFC 792: an echo request is answered with the same identifier, sequence and data", "[stack][icmp]") {
  fixture f;
  f.teach_arp();
  f.send_ip({peer_ip, us, 1}, icmp_echo(8, 0x4242, 7, pattern(56)));
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  const bytes& r = got[0];
  CHECK(bytes(r.begin(), r.begin() + 14) == bytes(ethernet(f.peer_mac, f.us_mac, 0x0800, {})));
  CHECK(get32(r, 14 + 12) == us.value);
  CHECK(get32(r, 14 + 16) == peer_ip.value);
  CHECK(r[14 + 9] == 1);
  CHECK(internet_checksum(std::span(r).subspan(14, 20)) == 0);
  CHECK(bytes(r.begin() + 34, r.end()) == icmp_echo(0, 0x4242, 7, pattern(56)));
}

// Found by tests/fuzz/icmp_fuzz: the reply to an all-zero echo request carried
// checksum 0x0000, which Linux drops; the right one is 0xffff.
TEST_CASE("RFC 792: an echo reply of all zero bytes still checksums (fuzz regression)", "[stack][icmp]") {
  fixture f;
  f.teach_arp();
  f.send_ip({peer_ip, us, 1}, icmp_echo(8, 0, 0, bytes(56, 0)));
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  CHECK(get16(got[0], 34 + 2) == 0xffff);
  CHECK(internet_checksum(std::span(got[0]).subspan(34)) == 0);
}

TEST_CASE("RFC 1122 3.2.1.8: IP options are skipped and the packet still served", "[stack][ipv4]") {
  fixture f;
  f.teach_arp();
  ip_fields fields{peer_ip, us, 1};
  fields.options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  f.send_ip(fields, icmp_echo(8, 1, 1, pattern(8)));
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  CHECK(bytes(got[0].begin() + 34, got[0].end()) == icmp_echo(0, 1, 1, pattern(8)));
}

TEST_CASE("RFC 791: a fragmented echo request is reassembled and the reply fragmented", "[stack][ipv4]") {
  fixture f;
  f.teach_arp();
  const bytes message = icmp_echo(8, 9, 1, pattern(4000));  // 4008 bytes of ICMP
  // Send it as three fragments, last one first (order must not matter).
  const std::size_t cut1 = 1480, cut2 = 2960;
  auto frag = [&](std::size_t from, std::size_t to, bool more) {
    ip_fields fl{peer_ip, us, 1, 0x77, static_cast<std::uint16_t>((from / 8) | (more ? 0x2000 : 0))};
    f.send_ip(fl, bytes(message.begin() + static_cast<long>(from), message.begin() + static_cast<long>(to)));
  };
  frag(cut2, message.size(), false);
  frag(0, cut1, true);
  frag(cut1, cut2, true);
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 3);
  bytes reply(message.size());
  std::size_t seen = 0;
  for (const bytes& fr : got) {
    REQUIRE(fr.size() <= 1514);
    const std::size_t off = static_cast<std::size_t>(get16(fr, 14 + 6) & 0x1fff) * 8;
    const std::size_t len = get16(fr, 14 + 2) - 20u;
    CHECK(get16(fr, 14 + 4) == get16(got[0], 14 + 4));  // one identification
    std::copy(fr.begin() + 34, fr.begin() + 34 + static_cast<long>(len), reply.begin() + static_cast<long>(off));
    seen += len;
  }
  CHECK(seen == message.size());
  CHECK(reply == icmp_echo(0, 9, 1, pattern(4000)));
  CHECK(f.stack.reassembly_in_progress() == 0);
}

TEST_CASE("IPv4: hostile headers are dropped with the reason counted", "[stack][ipv4]") {
  fixture f;
  f.teach_arp();
  bytes good = ipv4({peer_ip, us, 1}, icmp_echo(8, 1, 1, pattern(8)));
  auto send_mutated = [&](auto mutate) {
    bytes p = good;
    mutate(p);
    f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0800, p));
  };
  send_mutated([](bytes& p) { p[10] ^= 1; });                          // checksum
  send_mutated([](bytes& p) { p[0] = 0x65; });                         // version 6
  send_mutated([](bytes& p) { p[0] = 0x44; });                         // IHL 4
  send_mutated([](bytes& p) { p[0] = 0x4f; });                         // IHL past the end
  send_mutated([](bytes& p) { p[2] = 0x10; });                         // total length past the end
  send_mutated([](bytes& p) { p[2] = 0; p[3] = 10; });                 // total length < header
  send_mutated([](bytes& p) { p.resize(19); });                        // runt
  f.settle();
  CHECK(f.peer.take(0x0800).empty());
  const auto& c = f.stack.statistics().ipv4;
  CHECK(c.dropped_by(ipv4_drop::bad_checksum) == 1);
  CHECK(c.dropped_by(ipv4_drop::bad_version) == 1);
  CHECK(c.dropped_by(ipv4_drop::bad_header_length) == 2);
  CHECK(c.dropped_by(ipv4_drop::bad_total_length) == 2);
  CHECK(c.dropped_by(ipv4_drop::truncated) == 1);
  // And it still answers.
  f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0800, good));
  f.settle();
  CHECK(f.peer.take(0x0800).size() == 1);
}

TEST_CASE("IPv4: Ethernet padding after the total length is ignored", "[stack][ipv4]") {
  fixture f;
  f.teach_arp();
  bytes p = ipv4({peer_ip, us, 1}, icmp_echo(8, 3, 3, pattern(2)));
  p.resize(p.size() + 16, 0xee);  // minimum-size frame padding
  f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0800, p));
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  CHECK(bytes(got[0].begin() + 34, got[0].end()) == icmp_echo(0, 3, 3, pattern(2)));
}

TEST_CASE("RFC 1122 3.2.2.6: echo requests to a broadcast address are ignored", "[stack][icmp]") {
  fixture f;
  f.teach_arp();
  f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0800,
                       ipv4({peer_ip, ipv4_address::broadcast(), 1}, icmp_echo(8, 1, 1, {}))));
  f.settle();
  CHECK(f.peer.take(0x0800).empty());
  CHECK(f.stack.statistics().icmp.dropped_by(icmp_drop::broadcast_echo) == 1);
}

TEST_CASE("RFC 768: a datagram to a bound port is delivered, a zero checksum is accepted", "[stack][udp]") {
  fixture f;
  auto sock = f.stack.udp_bind(5353);
  REQUIRE(sock.ok());
  f.send_ip({peer_ip, us, 17}, udp(peer_ip, us, 4000, 5353, pattern(100)));
  f.send_ip({peer_ip, us, 17}, udp(peer_ip, us, 4001, 5353, pattern(3, 9), false));
  f.settle();
  std::vector<datagram> got;
  auto reader = [&]() -> task<void> {
    for (int i = 0; i < 2; ++i) got.push_back(*co_await sock->receive());
  };
  REQUIRE(run(f.sched, f.clock, reader()).ok());
  REQUIRE(got.size() == 2);
  CHECK(got[0].source == endpoint{peer_ip, 4000});
  CHECK(got[0].destination == endpoint{us, 5353});
  bytes data(got[0].payload.length());
  got[0].payload.copy_to(data);
  CHECK(data == pattern(100));
  CHECK(got[1].payload.length() == 3);
  CHECK(got[1].source.port == 4001);
}

TEST_CASE("UDP: try_receive and try_send_to work now or say would_block", "[stack][udp]") {
  fixture f;
  auto sock = f.stack.udp_bind(5353);
  REQUIRE(sock.ok());
  CHECK(sock->try_receive().err() == error::would_block);  // nothing queued
  f.send_ip({peer_ip, us, 17}, udp(peer_ip, us, 4000, 5353, pattern(20)));
  f.settle();
  auto d = sock->try_receive();
  REQUIRE(d.ok());
  CHECK(d->source == endpoint{peer_ip, 4000});
  CHECK(d->payload.length() == 20);
  CHECK(sock->try_receive().err() == error::would_block);
  // The peer's MAC is not known yet: nothing leaves, and no ARP request either
  // (that is send_to()'s job).
  const bytes payload = pattern(5);
  const view v = view::unowned(std::span<const std::uint8_t>(payload));
  CHECK(sock->try_send_to({peer_ip, 4000}, v).err() == error::would_block);
  f.settle();
  CHECK(f.peer.take(0x0806).empty());
  CHECK(f.peer.take(0x0800).empty());
  f.teach_arp();
  REQUIRE(sock->try_send_to({peer_ip, 4000}, v).ok());
  f.settle();
  auto out = f.peer.take(0x0800);
  REQUIRE(out.size() == 1);
  CHECK(get16(out[0], 34) == 5353);
  CHECK(get16(out[0], 36) == 4000);
  CHECK(f.stack.statistics().udp.sent == 1);
  // would_block is no failure; a datagram larger than UDP over IPv4 carries is.
  CHECK(sock->send_failures() == 0);
  const bytes huge = pattern(udp_header::max_payload + 1);
  CHECK(sock->try_send_to({peer_ip, 4000}, view::unowned(std::span<const std::uint8_t>(huge))).err() == error::too_large);
  CHECK(sock->send_failures() == 1);
}

TEST_CASE("RFC 768: bad checksums and lengths are dropped", "[stack][udp]") {
  fixture f;
  auto sock = f.stack.udp_bind(53);
  bytes d = udp(peer_ip, us, 1, 53, pattern(20));
  d[8] ^= 0xff;
  f.send_ip({peer_ip, us, 17}, d);
  bytes long_len = udp(peer_ip, us, 1, 53, pattern(20), false);
  long_len[5] = 200;  // length past the IP payload
  f.send_ip({peer_ip, us, 17}, long_len);
  f.settle();
  CHECK(f.stack.statistics().udp.dropped_by(udp_drop::bad_checksum) == 1);
  CHECK(f.stack.statistics().udp.dropped_by(udp_drop::malformed) == 1);
}

TEST_CASE("RFC 1122 4.1.3.1: a closed port answers ICMP port unreachable, rate limited", "[stack][udp][icmp]") {
  fixture f;
  f.teach_arp();
  const bytes d = udp(peer_ip, us, 999, 9, pattern(30));
  for (int i = 0; i < 50; ++i) f.send_ip({peer_ip, us, 17}, d);
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == default_config::icmp_error_burst);
  const bytes& r = got[0];
  CHECK(r[34] == 3);  // destination unreachable
  CHECK(r[35] == 3);  // port
  CHECK(internet_checksum(std::span(r).subspan(34)) == 0);
  // It quotes the offending IP header and the first 8 bytes of the datagram.
  CHECK(get32(r, 34 + 8 + 12) == peer_ip.value);
  CHECK(get16(r, 34 + 8 + 20) == 999);
  CHECK(get16(r, 34 + 8 + 22) == 9);
  CHECK(f.stack.statistics().icmp.dropped_by(icmp_drop::rate_limited) == 40);
  CHECK(f.stack.statistics().udp.dropped_by(udp_drop::no_listener) == 50);
}

TEST_CASE("ARP: a send waits for resolution, retries, then fails with unreachable", "[stack][arp]") {
  fixture f;
  auto sock = f.stack.udp_bind(1000);
  std::optional<result<void>> outcome;
  auto sender = [&]() -> task<void> {
    const bytes payload = pattern(10);
    outcome = co_await sock->send_to({ipv4_address::from_octets(10, 0, 0, 77), 7},
                                     view::unowned(std::span<const std::uint8_t>(payload)));
  };
  REQUIRE(run(f.sched, f.clock, sender()).ok());
  REQUIRE(outcome.has_value());
  CHECK(outcome->err() == error::unreachable);
  CHECK(sock->send_failures() == 1);
  auto requests = f.peer.take(0x0806);
  CHECK(requests.size() == default_config::arp.max_requests);
  CHECK(f.clock.now() >= time_point{default_config::arp.retry_interval * default_config::arp.max_requests});
}

TEST_CASE("RFC 1122 2.3.2.1: a neighbour in use is confirmed at its own address when its entry expires, "
          "traffic never waits",
          "[stack][arp]") {
  fixture f;
  f.teach_arp();
  auto sock = f.stack.udp_bind(1000);
  const bytes payload = pattern(10);
  auto send_one = [&] {
    auto sender = [&]() -> task<void> {
      auto r = co_await sock->send_to({peer_ip, 7}, view::unowned(std::span<const std::uint8_t>(payload)));
      CHECK(r.ok());
    };
    REQUIRE(run(f.sched, f.clock, sender()).ok());
    f.settle();
    CHECK(f.peer.take(0x0800).size() == 1);  // went out at once
    CHECK(f.stack.pending_packets() == 0);
  };
  const duration reachable = default_config::arp.reachable_time, retry = default_config::arp.retry_interval;
  const bytes probe = ethernet(f.peer_mac, f.us_mac, 0x0806, arp(1, f.us_mac, us, {}, peer_ip));

  send_one();
  f.settle(reachable);
  auto requests = f.peer.take(0x0806);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0] == probe);
  send_one();  // while it is being confirmed
  f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0806, arp(2, f.peer_mac, peer_ip, f.us_mac, us)));
  f.settle(retry * 5);
  CHECK(f.peer.take(0x0806).empty());  // confirmed: no more requests
  send_one();

  // Unanswered: max_requests requests to its address, then it is forgotten and
  // the next datagram resolves it afresh (broadcast; unanswered too here).
  f.settle(reachable + retry * (default_config::arp.max_requests + 1));
  requests = f.peer.take(0x0806);
  CHECK(requests.size() == default_config::arp.max_requests);
  for (const bytes& r : requests) CHECK(r == probe);
  CHECK(f.stack.arp_entries() == 0);
  auto late = [&]() -> task<void> {
    auto r = co_await sock->send_to({peer_ip, 7}, view::unowned(std::span<const std::uint8_t>(payload)));
    CHECK(r.err() == error::unreachable);
  };
  REQUIRE(run(f.sched, f.clock, late()).ok());
  requests = f.peer.take(0x0806);
  CHECK(requests.size() == default_config::arp.max_requests);
  for (const bytes& r : requests)
    CHECK(r == ethernet(mac_address::broadcast(), f.us_mac, 0x0806, arp(1, f.us_mac, us, {}, peer_ip)));
}

TEST_CASE("ARP: a datagram to an unresolved host goes out once the reply arrives", "[stack][arp][udp]") {
  fixture f;
  auto sock = f.stack.udp_bind(1000);
  // Off-link destination: the next hop is the gateway (the peer).
  std::optional<result<void>> outcome;
  const bytes payload = pattern(10);
  auto sender = [&]() -> task<void> {
    outcome = co_await sock->send_to({far_ip, 7}, view::unowned(std::span<const std::uint8_t>(payload)));
  };
  auto answerer = [&]() -> task<void> {
    co_await f.sched.sleep_for(1500ms);  // after one retry
    auto requests = f.peer.take(0x0806);
    CHECK(requests.size() == 2);
    CHECK(get32(requests.at(0), 14 + 24) == peer_ip.value);  // asks for the gateway
    f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0806, arp(2, f.peer_mac, peer_ip, f.us_mac, us)));
  };
  auto main = [&]() -> task<void> {
    auto a = spawn(f.sched, answerer());
    co_await sender();
    co_await a.join();
  };
  REQUIRE(run(f.sched, f.clock, main()).ok());
  REQUIRE(outcome.has_value());
  CHECK(outcome->ok());
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  CHECK(bytes(got[0].begin(), got[0].begin() + 6) == bytes(f.peer_mac.bytes.begin(), f.peer_mac.bytes.end()));
  CHECK(get32(got[0], 14 + 16) == far_ip.value);
  CHECK(bytes(got[0].begin() + 34, got[0].end()) == udp(us, far_ip, 1000, 7, payload));
}

TEST_CASE("UDP: a loop that waits itself: readable() wakes on a datagram, send_step() waits for ARP", "[stack][arp][udp]") {
  fixture f;
  auto sock = f.stack.udp_bind(1000);
  REQUIRE(sock.ok());
  const bytes payload = pattern(10);
  const view v = view::unowned(std::span<const std::uint8_t>(payload));
  std::optional<result<void>> sent;
  wake_reason woke = wake_reason::none;
  int waits = 0;
  auto server = [&]() -> task<void> {  // as dns::serve's loop: no task per datagram
    woke = co_await sock->readable();
    auto d = sock->try_receive();
    CHECK(d.ok());
    if (!d) co_return;
    for (bool started = false; !sent;) {
      sent = sock->send_step({far_ip, d->source.port}, v, started);
      if (!sent && co_await sock->next_hop_resolved() != wake_reason::cancelled) ++waits;
    }
  };
  auto peer = [&]() -> task<void> {
    co_await f.sched.sleep_for(10ms);
    f.send_ip({far_ip, us, 17}, udp(far_ip, us, 4000, 1000, pattern(3)));
    co_await f.sched.sleep_for(1500ms);  // the server asks for the gateway, once and once again
    auto requests = f.peer.take(0x0806);
    CHECK(requests.size() == 2);
    CHECK(get32(requests.at(0), 14 + 24) == peer_ip.value);
    CHECK(f.peer.take(0x0800).empty());  // nothing before the reply
    f.peer.send(ethernet(f.us_mac, f.peer_mac, 0x0806, arp(2, f.peer_mac, peer_ip, f.us_mac, us)));
  };
  auto main = [&]() -> task<void> {
    auto p = spawn(f.sched, peer());
    co_await server();
    co_await p.join();
  };
  REQUIRE(run(f.sched, f.clock, main()).ok());
  CHECK(woke == wake_reason::notified);
  REQUIRE(sent.has_value());
  CHECK(sent->ok());
  CHECK(waits >= 1);
  CHECK(sock->send_failures() == 0);
  f.settle();
  auto got = f.peer.take(0x0800);
  REQUIRE(got.size() == 1);
  CHECK(get32(got[0], 14 + 16) == far_ip.value);
  CHECK(bytes(got[0].begin() + 34, got[0].end()) == udp(us, far_ip, 1000, 4000, payload));
}

TEST_CASE("two stacks exchange UDP over a lossy, reordering link", "[stack][udp][sim]") {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    auto pool = std::make_unique<static_page_pool<1024>>();
    scheduler sched;
    ManualClock clock;
    sim_link link{*pool, clock, seed,
                  sim::impairment{.loss_ppm = 100'000, .duplicate_ppm = 50'000, .reorder_ppm = 100'000,
                                  .delay_min = 100us, .delay_max = 2ms}};
    const ipv4_address b_ip = ipv4_address::from_octets(10, 0, 0, 3);
    Stack<SimNetif, ManualClock> a{link.a(), clock, sched, *pool, {{us, 24}, {}, false}};
    Stack<SimNetif, ManualClock> b{link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false}};
    a.start();
    b.start();
    auto sa = a.udp_bind(1111);
    auto sb = b.udp_bind(2222);
    std::vector<std::uint8_t> received;
    auto receiver = [&]() -> task<void> {
      while (true) {
        auto d = co_await sb->receive();
        if (!d) co_return;
        std::uint8_t first = 0;
        d->payload.copy_to(std::span(&first, 1));
        received.push_back(first);
      }
    };
    int sent_ok = 0;
    auto main = [&]() -> task<void> {
      auto r = spawn(sched, receiver());
      for (int i = 0; i < 100; ++i) {
        bytes payload = pattern(200, static_cast<std::uint8_t>(i));
        payload[0] = static_cast<std::uint8_t>(i);
        auto ok = co_await sa->send_to({b_ip, 2222}, view::unowned(std::span<const std::uint8_t>(payload)));
        sent_ok += ok.ok();
        co_await sched.sleep_for(1ms);
      }
      co_await sched.sleep_for(100ms);
    };
    REQUIRE(run(sched, clock, main()).ok());
    INFO("seed " << seed);
    CHECK(sent_ok == 100);                 // ARP got through its retries
    CHECK(received.size() >= 70);          // ~10% loss, some duplicates
    CHECK(received.size() <= 130);
    for (auto v : received) CHECK(v < 100);
  }
}

namespace {
// A device that keeps the fragment lists it is given, to see where bytes live.
struct CaptureNetif {
  mac_address address{{2, 0, 0, 0, 0, 0x10}};
  frame_receiver receiver{};
  std::vector<std::vector<view>> sent{};
  mac_address mac() const noexcept { return address; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(frame_receiver r) noexcept { receiver = r; }
  result<void> transmit(std::span<const view> frags) noexcept {
    sent.emplace_back(frags.begin(), frags.end());
    return {};
  }
};
}  // namespace

// A stack on CaptureNetif that knows the peer's MAC (from its ARP request); frames
// from the peer go in as the device gives them, each in a page of the pool.
struct capture_host {
  std::unique_ptr<static_page_pool<16>> pool = std::make_unique<static_page_pool<16>>();
  scheduler sched;
  ManualClock clock;
  CaptureNetif nic;
  const mac_address peer_mac{{2, 0, 0, 0, 0, 0x20}};
  std::optional<Stack<CaptureNetif, ManualClock>> stack;

  capture_host() {
    stack.emplace(nic, clock, sched, *pool, stack_settings{{us, 24}, peer_ip, false});
    stack->start();
    inject(ethernet(mac_address::broadcast(), peer_mac, 0x0806, arp(1, peer_mac, peer_ip, {}, us)));
    nic.sent.clear();
  }
  view inject(const bytes& frame) {
    view page = *pool->allocate();
    std::copy(frame.begin(), frame.end(), page.data());
    nic.receiver(page.head(frame.size()));
    return page;
  }
  // True if every page is back once the stack and what it sent are gone.
  bool nothing_leaked() {
    nic.sent.clear();
    stack.reset();
    return pool->statistics().in_use == 0;
  }
};

TEST_CASE("zero copy: an echo reply sends the request's data from the page it arrived in", "[stack][icmp]") {
  capture_host h;
  {
    view request =
        h.inject(ethernet(h.nic.address, h.peer_mac, 0x0800, ipv4({peer_ip, us, 1}, icmp_echo(8, 5, 6, pattern(1000)))));
    REQUIRE(h.nic.sent.size() == 1);
    const auto& frags = h.nic.sent[0];
    REQUIRE(frags.size() == 3);  // Ethernet + IPv4 header, ICMP header, the data
    CHECK(frags[2].page() == request.page());
    CHECK(frags[2].data() == request.data() + 14 + 20 + 8);
    CHECK(frags[2].size() == 1000);
  }
  CHECK(h.nothing_leaked());
}

TEST_CASE("UDP: the transport header shares the Ethernet and IPv4 headers' slice, in the first fragment only", "[stack][udp]") {
  capture_host h;
  {
    auto sock = h.stack->udp_bind(1111);
    REQUIRE(sock.ok());
    for (const std::size_t size : {100u, 3000u}) {
      h.nic.sent.clear();
      const bytes payload = pattern(size);
      const view v = view::unowned(std::span<const std::uint8_t>(payload));
      REQUIRE(sock->try_send_to({peer_ip, 2222}, v).ok());
      INFO("payload " << size);
      REQUIRE(h.nic.sent.size() == (size == 100 ? 1u : 3u));  // 1480 bytes of datagram per fragment
      bytes datagram;
      for (std::size_t k = 0; k < h.nic.sent.size(); ++k) {
        const auto& frags = h.nic.sent[k];
        REQUIRE(frags.size() == 2);  // the headers' slice, then the payload where it lives
        CHECK(frags[0].size() == (k == 0 ? 14u + 20u + 8u : 14u + 20u));
        CHECK(frags[1].page() == nullptr);  // the caller's bytes, not a copy
        bytes frame;
        for (const view& f : frags) frame.insert(frame.end(), f.data(), f.data() + f.size());
        CHECK(static_cast<std::size_t>(get16(frame, 20) & 0x1fff) * 8 == datagram.size());  // fragment offset
        CHECK(((get16(frame, 20) & 0x2000) != 0) == (k + 1 < h.nic.sent.size()));            // more fragments
        datagram.insert(datagram.end(), frame.begin() + 34, frame.end());
      }
      CHECK(datagram == udp(us, peer_ip, 1111, 2222, payload));  // header, checksum and data as one datagram
    }
  }
  CHECK(h.nothing_leaked());
}
