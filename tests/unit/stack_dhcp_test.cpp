// uni::Stack configured by DHCP (RFC 2131) on the simulated link with the manual
// clock: a hand-driven server on the far end answers (or does not), and the tests
// check the frames the stack sends, the address it configures, and what happens at
// T1, T2, expiry and on a DHCPNAK. Minutes of lease time pass in no wall time.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <uni/core/run.hpp>
#include <uni/net/dhcp_client.hpp>
#include <uni/stack.hpp>

#include "frames.hpp"

using namespace uni;
using namespace frames;

namespace {

struct dhcp_config : default_config {
  static constexpr bool dhcp = true;
};
// Built with the client, but static addressing unless the settings ask for DHCP.
struct dhcp_capable_config : default_config {
  static constexpr bool dhcp = true;
  static constexpr bool dhcp_by_default = false;
};

const ipv4_address server_ip = ipv4_address::from_octets(10, 9, 0, 1);
const ipv4_address leased = ipv4_address::from_octets(10, 9, 0, 57);
const ipv4_address router = ipv4_address::from_octets(10, 9, 0, 254);
const ipv4_address dns = ipv4_address::from_octets(10, 9, 0, 53);
constexpr std::uint32_t lease_seconds = 100;  // T1 = 50 s, T2 = 87.5 s

// A client message as the server sees it, with the frame's addresses.
struct from_client {
  mac_address eth_src, eth_dst;
  ipv4_address ip_src, ip_dst;
  dhcp_message m;
};

template <class Config>
struct fixture {
  std::unique_ptr<static_page_pool<256>> pool = std::make_unique<static_page_pool<256>>();
  scheduler sched;
  ManualClock clock;
  sim_link link{*pool, clock, 1, sim::impairment{.delay_min = 10us, .delay_max = 10us}};
  Stack<SimNetif, ManualClock, Config> stack;
  raw_peer peer{link.b(), *pool};
  mac_address us_mac = link.a().mac();
  mac_address server_mac = link.b().mac();

  explicit fixture(stack_settings s = stack_settings::from<Config>())
      : stack(link.a(), clock, sched, *pool, s) {
    peer.attach();
    stack.start();
    settle();
  }
  void settle(duration d = 1ms) {
    auto wait = [&]() -> task<void> { co_await sched.sleep_for(d); };
    REQUIRE(run(sched, clock, wait()).ok());
  }
  // Runs until `t` (absolute simulated time).
  void settle_until(time_point t) {
    if (t > sched.now()) settle(t - sched.now());
  }

  // The DHCP messages the stack sent since the last call (UDP 68 -> 67), checked
  // for the UDP ports; other IPv4 frames are left in peer.received.
  std::vector<from_client> client_messages() {
    std::vector<from_client> out;
    for (const bytes& f : peer.take(0x0800)) {
      const std::size_t ip = 14, udp_at = 14 + 20;
      if (f[ip + 9] != 17 || get16(f, udp_at + 2) != dhcp_server_port) {
        peer.received.push_back(f);
        continue;
      }
      CHECK(get16(f, udp_at) == dhcp_client_port);
      auto m = dhcp_message::parse(std::span(f).subspan(udp_at + 8));
      REQUIRE(m.ok());
      from_client c;
      std::copy_n(f.begin(), 6, c.eth_dst.bytes.begin());
      std::copy_n(f.begin() + 6, 6, c.eth_src.bytes.begin());
      c.ip_src = ipv4_address{get32(f, ip + 12)};
      c.ip_dst = ipv4_address{get32(f, ip + 16)};
      c.m = *m;
      out.push_back(c);
    }
    return out;
  }
  from_client one_client_message() {
    auto got = client_messages();
    REQUIRE(got.size() == 1);
    return got[0];
  }

  // A reply from the server: broadcast (as dnsmasq answers a BROADCAST-flagged request)
  // or unicast to the leased address.
  void reply(const from_client& to, dhcp_message_type type, bool broadcast = true) {
    dhcp_message m;
    m.op = dhcp_op::boot_reply;
    m.xid = to.m.xid;
    m.flags = to.m.flags;
    m.chaddr = to.m.chaddr;
    m.message_type = type;
    m.server_identifier = server_ip;
    if (type != dhcp_message_type::nak) {
      m.yiaddr = leased;
      m.ciaddr = to.m.ciaddr;
      m.lease_seconds = lease_seconds;
      m.subnet_mask = ipv4_address{0xffffff00u};
      m.router = router;
      m.dns[0] = dns;
      m.dns_count = 1;
    }
    std::array<std::uint8_t, dhcp_message::max_emit_size> out{};
    const bytes payload(out.begin(), out.begin() + static_cast<long>(m.emit(out)));
    const ipv4_address dst = broadcast ? ipv4_address::broadcast() : leased;
    const mac_address eth_dst = broadcast ? mac_address::broadcast() : us_mac;
    peer.send(ethernet(eth_dst, server_mac, 0x0800,
                       ipv4({server_ip, dst}, udp(server_ip, dst, dhcp_server_port, dhcp_client_port, payload))));
    settle();
  }
  // DISCOVER, OFFER, REQUEST, ACK; returns when the REQUEST was sent.
  time_point bind() {
    reply(one_client_message(), dhcp_message_type::offer);
    const time_point requested = sched.now() - 1ms;  // reply() settled 1 ms after the OFFER reached the stack
    reply(one_client_message(), dhcp_message_type::ack);
    REQUIRE(stack.address() == ipv4_cidr{leased, 24});
    peer.received.clear();  // the announcement
    return requested;
  }
  // Answers the ARP request for `ip` the stack sent, as `ip` would.
  void answer_arp(ipv4_address ip) {
    auto requests = peer.take(0x0806);
    REQUIRE(requests.size() == 1);
    CHECK(get32(requests[0], 14 + 24) == ip.value);
    peer.send(ethernet(us_mac, server_mac, 0x0806, arp(2, server_mac, ip, us_mac, leased)));
    settle();
  }
  // Pings `to` from the server; true if the stack answered.
  bool ping(ipv4_address to) {
    peer.send(ethernet(us_mac, server_mac, 0x0806, arp(1, server_mac, server_ip, {}, to)));
    peer.send(ethernet(us_mac, server_mac, 0x0800, ipv4({server_ip, to, 1}, icmp_echo(8, 7, 1, pattern(16)))));
    settle();
    peer.take(0x0806);
    for (const bytes& f : peer.take(0x0800))
      if (f[14 + 9] == 1 && f[14 + 20] == 0) return true;
    return false;
  }
};

}  // namespace

TEST_CASE("RFC 2131 §4.1: without an address the stack broadcasts DHCPDISCOVER from 0.0.0.0", "[stack][dhcp]") {
  fixture<dhcp_config> f;
  CHECK(f.stack.address().address.is_any());
  CHECK(f.peer.take(0x0806).empty());  // no gratuitous ARP for an address we do not have
  const from_client d = f.one_client_message();
  CHECK(d.eth_dst == mac_address::broadcast());
  CHECK(d.eth_src == f.us_mac);
  CHECK(d.ip_src == ipv4_address::any());
  CHECK(d.ip_dst == ipv4_address::broadcast());
  CHECK(d.m.message_type == dhcp_message_type::discover);
  CHECK(d.m.chaddr == f.us_mac);
  CHECK(d.m.broadcast());
}

TEST_CASE("RFC 2131 §3.1: OFFER, REQUEST from 0.0.0.0, ACK: the stack takes the lease's address, router and DNS",
          "[stack][dhcp]") {
  fixture<dhcp_config> f;
  auto assigned = spawn(f.sched, f.stack.address_assigned());
  f.reply(f.one_client_message(), dhcp_message_type::offer);
  const from_client r = f.one_client_message();
  CHECK(r.m.message_type == dhcp_message_type::request);
  CHECK(r.ip_src == ipv4_address::any());
  CHECK(r.ip_dst == ipv4_address::broadcast());
  CHECK(r.eth_dst == mac_address::broadcast());
  CHECK(r.m.requested_ip == leased);
  CHECK(r.m.server_identifier == server_ip);
  CHECK(f.stack.address().address.is_any());  // not before the ACK
  CHECK_FALSE(assigned.done());

  f.reply(r, dhcp_message_type::ack);
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});
  CHECK(f.stack.gateway() == router);
  REQUIRE(f.stack.dns_servers().size() == 1);
  CHECK(f.stack.dns_servers()[0] == dns);
  REQUIRE(f.stack.lease().has_value());
  CHECK(f.stack.lease()->server == server_ip);
  REQUIRE(assigned.done());
  f.settle();
  // RFC 5227 §3: the new address is announced.
  auto announced = f.peer.take(0x0806);
  REQUIRE(announced.size() == 1);
  CHECK(announced[0] == ethernet(mac_address::broadcast(), f.us_mac, 0x0806, arp(1, f.us_mac, leased, {}, leased)));
  CHECK(f.ping(leased));
  CHECK(f.client_messages().empty());
  CHECK(f.stack.dhcp_statistics()->leases_acquired == 1);
}

TEST_CASE("RFC 1122 §3.2.1.3: before a lease only DHCP is served: no echo replies, no UDP sends",
          "[stack][dhcp]") {
  fixture<dhcp_config> f;
  f.client_messages();
  CHECK_FALSE(f.ping(leased));
  CHECK(f.stack.statistics().ipv4.dropped_by(ipv4_drop::not_for_us) == 1);
  CHECK(f.peer.received.empty());

  auto sock = f.stack.udp_bind(7);
  REQUIRE(sock.ok());
  view page = *f.pool->allocate();
  auto sent = run(f.sched, f.clock, sock->send_to({server_ip, 7}, page.head(4)));
  CHECK(sent.err() == error::unreachable);
  CHECK(f.peer.received.empty());
}

TEST_CASE("RFC 2131 §4.4.5: at T1 the stack unicasts DHCPREQUEST from its address to the server", "[stack][dhcp]") {
  fixture<dhcp_config> f;
  f.bind();
  const time_point t1 = f.stack.lease()->renew_at();
  CHECK(t1 == f.stack.lease()->acquired + 50s);
  f.settle_until(t1 - 1ms);
  CHECK(f.client_messages().empty());
  CHECK(f.peer.received.empty());

  f.settle_until(t1 + 1ms);
  f.answer_arp(server_ip);  // the server's MAC, for the unicast
  const from_client r = f.one_client_message();
  CHECK(r.m.message_type == dhcp_message_type::request);
  CHECK(r.eth_dst == f.server_mac);
  CHECK(r.ip_src == leased);
  CHECK(r.ip_dst == server_ip);
  CHECK(r.m.ciaddr == leased);
  CHECK_FALSE(r.m.broadcast());
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});  // the lease still holds

  f.reply(r, dhcp_message_type::ack, /*broadcast=*/false);  // unicast to ciaddr
  CHECK(f.stack.lease()->acquired.time_since_epoch().count() == t1.time_since_epoch().count());
  CHECK(f.stack.lease()->renew_at() == t1 + 50s);
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});
  CHECK(f.stack.dhcp_statistics()->renewals == 1);
  CHECK(f.peer.take(0x0806).empty());  // same address: nothing to announce again
}

TEST_CASE("RFC 2131 §4.4.5: with no answer by T2 the stack broadcasts DHCPREQUEST (REBINDING)", "[stack][dhcp]") {
  fixture<dhcp_config> f;
  f.bind();
  const dhcp_lease l = *f.stack.lease();
  f.settle_until(l.renew_at() + 1ms);
  f.answer_arp(server_ip);
  CHECK(f.one_client_message().ip_dst == server_ip);  // RENEWING, unanswered

  f.settle_until(l.rebind_at() - 1ms);
  CHECK(f.client_messages().empty());  // the retransmission would be after T2: T2 comes first
  f.settle_until(l.rebind_at() + 1ms);
  const from_client r = f.one_client_message();
  CHECK(r.m.message_type == dhcp_message_type::request);
  CHECK(r.eth_dst == mac_address::broadcast());
  CHECK(r.ip_src == leased);  // still ours until it expires
  CHECK(r.ip_dst == ipv4_address::broadcast());
  CHECK(r.m.ciaddr == leased);
  CHECK_FALSE(r.m.server_identifier);

  f.reply(r, dhcp_message_type::ack);
  CHECK(f.stack.lease()->acquired.time_since_epoch().count() == l.rebind_at().time_since_epoch().count());
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});
  CHECK(f.ping(leased));
}

TEST_CASE("RFC 2131 §4.4.5: when the lease expires the address is removed and DISCOVER starts again",
          "[stack][dhcp]") {
  fixture<dhcp_config> f;
  f.bind();
  const dhcp_lease l = *f.stack.lease();
  f.settle_until(l.expires_at() - 1ms);
  f.peer.take(0x0806);
  // Only the REQUEST at T2: the unicast one at T1 waited for an ARP answer that never came.
  CHECK(f.client_messages().size() == 1);
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});

  f.settle_until(l.expires_at() + 1ms);
  CHECK(f.stack.address().address.is_any());
  CHECK(f.stack.gateway().is_any());
  CHECK_FALSE(f.stack.lease().has_value());
  CHECK(f.stack.dns_servers().empty());
  const from_client d = f.one_client_message();
  CHECK(d.m.message_type == dhcp_message_type::discover);
  CHECK(d.ip_src == ipv4_address::any());
  CHECK(f.stack.dhcp_statistics()->leases_lost == 1);
  CHECK_FALSE(f.ping(leased));

  // And a new lease brings the address back.
  f.reply(d, dhcp_message_type::offer);
  f.reply(f.one_client_message(), dhcp_message_type::ack);
  CHECK(f.stack.address() == ipv4_cidr{leased, 24});
}

TEST_CASE("RFC 2131 §4.4.5 Figure 5: a DHCPNAK while renewing removes the address at once", "[stack][dhcp]") {
  fixture<dhcp_config> f;
  f.bind();
  f.settle_until(f.stack.lease()->renew_at() + 1ms);
  f.answer_arp(server_ip);
  f.reply(f.one_client_message(), dhcp_message_type::nak, /*broadcast=*/false);
  CHECK(f.stack.address().address.is_any());
  CHECK_FALSE(f.stack.lease().has_value());
  const from_client d = f.one_client_message();
  CHECK(d.m.message_type == dhcp_message_type::discover);
  CHECK(d.ip_src == ipv4_address::any());
  CHECK(f.stack.dhcp_statistics()->naks == 1);
}

TEST_CASE("DHCP is chosen at run time: a DHCP-capable stack with static settings sends no DHCP", "[stack][dhcp]") {
  const ipv4_address us = ipv4_address::from_octets(10, 9, 0, 2);
  SECTION("static") {
    fixture<dhcp_capable_config> f;  // stack_settings::from<>() leaves dhcp off
    CHECK(f.stack.address() == dhcp_capable_config::address);
    CHECK(f.client_messages().empty());
    CHECK(f.peer.take(0x0806).size() == 1);  // the static address's announcement
    CHECK(f.stack.dhcp_statistics() == nullptr);
    CHECK(f.stack.udp_bind(dhcp_client_port).ok());  // port 68 is free
  }
  SECTION("asked for") {
    fixture<dhcp_capable_config> f(stack_settings{{us, 24}, {}, true});
    CHECK(f.stack.address().address.is_any());
    CHECK(f.one_client_message().m.message_type == dhcp_message_type::discover);
  }
}
