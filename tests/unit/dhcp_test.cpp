// The DHCP client (RFC 2131) and its wire format (RFC 2132 options), one scenario per
// rule. Server messages are built by hand, byte by byte, in the shape dnsmasq sends them
// (options 53, 54, 51, 58, 59, 1, 28, 3, 6, 15, then end), independently of
// dhcp_message::emit; the client's messages are checked by reading raw bytes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <uni/net/dhcp_client.hpp>
#include <uni/net/dhcp_message.hpp>

using namespace uni;

namespace {

using bytes = std::vector<std::uint8_t>;

const mac_address client_mac{{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}};
const mac_address other_mac{{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}};
const ipv4_address server = ipv4_address::from_octets(192, 168, 1, 1);
const ipv4_address server2 = ipv4_address::from_octets(192, 168, 1, 2);
const ipv4_address offered = ipv4_address::from_octets(192, 168, 1, 57);
const ipv4_address dns1 = ipv4_address::from_octets(192, 168, 1, 1);
const ipv4_address dns2 = ipv4_address::from_octets(9, 9, 9, 9);
const time_point t0 = time_point{} + std::chrono::seconds{100};

void put16(bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(const bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
std::uint32_t get32(const bytes& b, std::size_t at) { return std::uint32_t{get16(b, at)} << 16 | get16(b, at + 2); }

// RFC 2131 Figure 1, a BOOTREPLY: op .. file, then the magic cookie.
bytes reply_header(std::uint32_t xid, mac_address chaddr, ipv4_address yiaddr, ipv4_address ciaddr = {},
                   std::uint8_t op = 2) {
  bytes b;
  b.push_back(op);
  b.push_back(1);  // htype Ethernet
  b.push_back(6);  // hlen
  b.push_back(0);  // hops
  put32(b, xid);
  put16(b, 0);       // secs
  put16(b, 0x8000);  // flags, copied from the client's
  put32(b, ciaddr.value);
  put32(b, yiaddr.value);
  put32(b, server.value);  // siaddr: dnsmasq names itself as next server
  put32(b, 0);             // giaddr
  b.insert(b.end(), chaddr.bytes.begin(), chaddr.bytes.end());
  b.insert(b.end(), 10, 0);   // rest of chaddr
  b.insert(b.end(), 64, 0);   // sname
  b.insert(b.end(), 128, 0);  // file
  b.insert(b.end(), {99, 130, 83, 99});
  return b;
}

void opt(bytes& b, std::uint8_t code, const bytes& value) {
  b.push_back(code);
  b.push_back(static_cast<std::uint8_t>(value.size()));
  b.insert(b.end(), value.begin(), value.end());
}
void opt32(bytes& b, std::uint8_t code, std::uint32_t v) {
  bytes value;
  put32(value, v);
  opt(b, code, value);
}

struct server_options {
  std::uint8_t type = 2;
  std::optional<ipv4_address> server_id = server;
  std::optional<std::uint32_t> lease = 3600;
  std::optional<std::uint32_t> t1 = 1800;
  std::optional<std::uint32_t> t2 = 3150;
  std::optional<std::uint32_t> mask = 0xffffff00u;
  std::optional<ipv4_address> router = ipv4_address::from_octets(192, 168, 1, 254);
  std::vector<ipv4_address> dns{dns1, dns2};
};

// An OFFER, ACK or NAK as dnsmasq lays it out.
bytes dnsmasq(std::uint32_t xid, mac_address chaddr, ipv4_address yiaddr, const server_options& o,
              ipv4_address ciaddr = {}) {
  bytes b = reply_header(xid, chaddr, yiaddr, ciaddr);
  opt(b, 53, {o.type});
  if (o.server_id) opt32(b, 54, o.server_id->value);
  if (o.lease) opt32(b, 51, *o.lease);
  if (o.t1) opt32(b, 58, *o.t1);
  if (o.t2) opt32(b, 59, *o.t2);
  if (o.mask) opt32(b, 1, *o.mask);
  if (o.mask) opt32(b, 28, yiaddr.value | ~*o.mask);  // broadcast address: not used by uni
  if (o.router) opt32(b, 3, o.router->value);
  if (!o.dns.empty()) {
    bytes v;
    for (auto a : o.dns) put32(v, a.value);
    opt(b, 6, v);
  }
  opt(b, 15, {'l', 'a', 'n'});  // domain name: not used by uni
  b.push_back(255);
  return b;
}

bytes nak(std::uint32_t xid, mac_address chaddr = client_mac, ipv4_address from = server) {
  bytes b = reply_header(xid, chaddr, {});
  opt(b, 53, {6});
  opt32(b, 54, from.value);
  opt(b, 56, {'w', 'r', 'o', 'n', 'g', ' ', 'n', 'e', 't'});  // message
  b.push_back(255);
  return b;
}

// A test-side reading of the options area, independent of dhcp_message::parse.
std::optional<bytes> find_option(const bytes& m, std::uint8_t code) {
  std::size_t i = 240;
  while (i < m.size()) {
    const std::uint8_t c = m[i];
    if (c == 0) {
      ++i;
      continue;
    }
    if (c == 255) break;
    const std::size_t len = m[i + 1];
    if (c == code) return bytes(m.begin() + static_cast<long>(i + 2), m.begin() + static_cast<long>(i + 2 + len));
    i += 2 + len;
  }
  return std::nullopt;
}
bytes addr_bytes(ipv4_address a) {
  bytes b;
  put32(b, a.value);
  return b;
}

struct sent {
  bytes payload;
  ipv4_address destination;
  bool from_unspecified;
};
sent take(dhcp_client& c) {
  auto o = c.take_outgoing();
  REQUIRE(o.has_value());
  return {bytes(o->bytes.begin(), o->bytes.begin() + static_cast<long>(o->size)), o->destination, o->from_unspecified};
}

void deliver(dhcp_client& c, const bytes& b, time_point now) { c.on_message(b, now); }

// The fixed fields every client message has (RFC 2131 Table 5).
void check_client_header(const bytes& m, const dhcp_client& c) {
  REQUIRE(m.size() >= 300);  // the BOOTP minimum
  REQUIRE(m.size() <= dhcp_message::max_emit_size);
  CHECK(m[0] == 1);  // BOOTREQUEST
  CHECK(m[1] == 1);
  CHECK(m[2] == 6);
  CHECK(m[3] == 0);
  CHECK(get32(m, 4) == c.xid());
  CHECK(get32(m, 16) == 0);  // yiaddr
  CHECK(get32(m, 20) == 0);  // siaddr
  CHECK(get32(m, 24) == 0);  // giaddr
  CHECK(std::equal(client_mac.bytes.begin(), client_mac.bytes.end(), m.begin() + 28));
  CHECK(std::all_of(m.begin() + 34, m.begin() + 236, [](std::uint8_t x) { return x == 0; }));
  CHECK(get32(m, 236) == 0x63825363);  // 99.130.83.99
  CHECK(find_option(m, 55) == bytes{1, 3, 6, 51, 58, 59});  // §3.5: the same list every time
}

// DISCOVER, OFFER, REQUEST, ACK with the default dnsmasq options; returns the REQUEST time.
time_point bind(dhcp_client& c, const server_options& ack = {.type = 5}) {
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0 + std::chrono::milliseconds{20});
  take(c);
  const time_point requested = t0 + std::chrono::milliseconds{20};
  deliver(c, dnsmasq(xid, client_mac, offered, ack), t0 + std::chrono::milliseconds{40});
  REQUIRE(c.state() == dhcp_state::bound);
  return requested;
}

// A heap copy of exactly n bytes, so ASan catches any read past the end.
std::unique_ptr<std::uint8_t[]> exact(const bytes& src, std::size_t n) {
  auto p = std::make_unique<std::uint8_t[]>(n ? n : 1);
  std::copy(src.begin(), src.begin() + static_cast<long>(n), p.get());
  return p;
}

using std::chrono::milliseconds;
using std::chrono::seconds;

}  // namespace

// ---------------------------------------------------------------------------------------
// The exchange of RFC 2131 §3.1

TEST_CASE("RFC 2131 §4.4.1: the client begins in INIT and broadcasts DHCPDISCOVER from 0.0.0.0", "[dhcp]") {
  dhcp_client c{client_mac, 42};
  CHECK(c.state() == dhcp_state::init);
  CHECK(c.next_deadline() == time_never);
  CHECK_FALSE(c.take_outgoing().has_value());

  c.start(t0);
  CHECK(c.state() == dhcp_state::selecting);
  const sent d = take(c);
  CHECK(d.destination == ipv4_address::broadcast());
  CHECK(d.from_unspecified);
  check_client_header(d.payload, c);
  CHECK(get16(d.payload, 8) == 0);       // secs
  CHECK(get16(d.payload, 10) == 0x8000);  // §4.1: BROADCAST, we take no unicast before an address
  CHECK(get32(d.payload, 12) == 0);       // ciaddr
  CHECK(find_option(d.payload, 53) == bytes{1});
  CHECK_FALSE(find_option(d.payload, 54));  // Table 5: server identifier MUST NOT
  CHECK_FALSE(find_option(d.payload, 50));
  CHECK(c.stats().sent == 1);
  CHECK_FALSE(c.take_outgoing().has_value());  // taken once
}

TEST_CASE("RFC 2131 §4.3.2: the SELECTING DHCPREQUEST names the server and requests the offered yiaddr", "[dhcp]") {
  dhcp_client c{client_mac, 42};
  c.start(t0);
  const sent d = take(c);
  const std::uint32_t xid = c.xid();

  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0 + milliseconds{30});
  CHECK(c.state() == dhcp_state::requesting);
  const sent r = take(c);
  check_client_header(r.payload, c);
  CHECK(get32(r.payload, 4) == xid);  // §4.4.1: the same xid as the OFFER
  CHECK(r.destination == ipv4_address::broadcast());
  CHECK(r.from_unspecified);
  CHECK(get16(r.payload, 8) == get16(d.payload, 8));  // §3.1 step 3: same 'secs' as the DISCOVER
  CHECK(get16(r.payload, 10) == 0x8000);
  CHECK(get32(r.payload, 12) == 0);  // 'ciaddr' MUST be zero
  CHECK(find_option(r.payload, 53) == bytes{3});
  CHECK(find_option(r.payload, 50) == addr_bytes(offered));  // requested IP = yiaddr
  CHECK(find_option(r.payload, 54) == addr_bytes(server));   // server identifier
}

TEST_CASE("RFC 2131 §4.4.1: DHCPACK binds, the lease is recorded from the time the REQUEST was sent", "[dhcp]") {
  dhcp_client c{client_mac, 42};
  const std::uint32_t generation = c.lease_generation();
  const time_point requested = bind(c);

  REQUIRE(c.lease().has_value());
  const dhcp_lease l = *c.lease();
  CHECK(l.address == ipv4_cidr{offered, 24});
  CHECK(l.router == ipv4_address::from_octets(192, 168, 1, 254));
  REQUIRE(l.dns_count == 2);
  CHECK(l.dns[0] == dns1);
  CHECK(l.dns[1] == dns2);
  CHECK(l.server == server);
  CHECK(l.lease_time == seconds{3600});
  CHECK(l.t1 == seconds{1800});
  CHECK(l.t2 == seconds{3150});
  CHECK(l.acquired == requested);
  CHECK(c.lease_generation() != generation);
  CHECK(c.next_deadline() == requested + seconds{1800});  // T1
  CHECK_FALSE(c.take_outgoing().has_value());
  CHECK(c.stats().leases_acquired == 1);
  CHECK(c.stats().received == 2);
  CHECK(c.stats().ignored_total() == 0);
}

TEST_CASE("RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease", "[dhcp]") {
  dhcp_client c{client_mac, 7};
  const time_point requested = bind(c, {.type = 5, .lease = 1000, .t1 = std::nullopt, .t2 = std::nullopt});
  const dhcp_lease l = *c.lease();
  CHECK(l.lease_time == seconds{1000});
  CHECK(l.t1 == seconds{500});
  CHECK(l.t2 == seconds{875});
  CHECK(l.renew_at() == requested + seconds{500});
  CHECK(l.rebind_at() == requested + seconds{875});
  CHECK(l.expires_at() == requested + seconds{1000});
}

TEST_CASE("RFC 2131 §4.4.5: T1 MUST be before T2 and T2 before expiry, other values fall back to defaults", "[dhcp]") {
  SECTION("T2 not before expiry") {
    dhcp_client c{client_mac, 7};
    bind(c, {.type = 5, .lease = 1000, .t1 = 100, .t2 = 1000});
    CHECK(c.lease()->t1 == seconds{100});
    CHECK(c.lease()->t2 == seconds{875});
  }
  SECTION("T1 not before T2") {
    dhcp_client c{client_mac, 7};
    bind(c, {.type = 5, .lease = 1000, .t1 = 950, .t2 = 950});
    CHECK(c.lease()->t1 == seconds{500});
    CHECK(c.lease()->t2 == seconds{950});
  }
  SECTION("a short T2 with no T1: T1 = T2, RENEWING is skipped") {
    dhcp_client c{client_mac, 7};
    const time_point requested = bind(c, {.type = 5, .lease = 1000, .t1 = std::nullopt, .t2 = 200});
    CHECK(c.lease()->t1 == seconds{200});
    CHECK(c.lease()->t2 == seconds{200});
    c.on_timer(requested + seconds{200});
    CHECK(c.state() == dhcp_state::rebinding);
    CHECK(take(c).destination == ipv4_address::broadcast());
  }
}

TEST_CASE("RFC 2131 §3.3: a lease time of 0xffffffff is infinite and never renewed", "[dhcp]") {
  dhcp_client c{client_mac, 7};
  bind(c, {.type = 5, .lease = 0xffffffffu, .t1 = std::nullopt, .t2 = std::nullopt});
  CHECK(c.lease()->lease_time == dhcp_lease::infinite);
  CHECK(c.lease()->expires_at() == time_never);
  CHECK(c.next_deadline() == time_never);
  c.on_timer(t0 + std::chrono::hours{24 * 365 * 100});
  CHECK(c.state() == dhcp_state::bound);
}

TEST_CASE("RFC 2132 §3.3, §3.5, §3.8: subnet mask, first router, at most three DNS servers", "[dhcp]") {
  SECTION("no mask: the address's class; no router: 0.0.0.0") {
    dhcp_client c{client_mac, 7};
    bind(c, {.type = 5, .mask = std::nullopt, .router = std::nullopt, .dns = {}});
    CHECK(c.lease()->address == ipv4_cidr{offered, 24});  // 192.168/16 is class C
    CHECK(c.lease()->router == ipv4_address::any());
    CHECK(c.lease()->dns_count == 0);
  }
  SECTION("a /20 mask and four DNS servers") {
    dhcp_client c{client_mac, 7};
    const ipv4_address d3 = ipv4_address::from_octets(1, 1, 1, 1), d4 = ipv4_address::from_octets(8, 8, 8, 8);
    bind(c, {.type = 5, .mask = 0xfffff000u, .dns = {dns1, dns2, d3, d4}});
    CHECK(c.lease()->address == ipv4_cidr{offered, 20});
    REQUIRE(c.lease()->dns_count == 3);
    CHECK(c.lease()->dns[2] == d3);
  }
  SECTION("two routers: the first is preferred") {
    dhcp_client c{client_mac, 7};
    c.start(t0);
    take(c);
    deliver(c, dnsmasq(c.xid(), client_mac, offered, {}), t0);
    take(c);
    bytes ack = reply_header(c.xid(), client_mac, offered);
    opt(ack, 53, {5});
    opt32(ack, 54, server.value);
    opt32(ack, 51, 600);
    opt(ack, 3, {10, 0, 0, 1, 10, 0, 0, 2});
    ack.push_back(255);
    deliver(c, ack, t0);
    CHECK(c.lease()->router == ipv4_address::from_octets(10, 0, 0, 1));
  }
}

// ---------------------------------------------------------------------------------------
// Retransmission (§4.1) and giving up (§3.1 step 5)

TEST_CASE("RFC 2131 §4.1: DHCPDISCOVER is retransmitted after 4, 8, 16, 32, 64, 64 s, each +-1 s", "[dhcp]") {
  dhcp_client c{client_mac, 1234};
  c.start(t0);
  const sent first = take(c);
  const std::uint32_t xid = c.xid();
  time_point now = t0;
  const int expected[] = {4, 8, 16, 32, 64, 64, 64};
  std::vector<time_point> deadlines;
  for (int base : expected) {
    const time_point deadline = c.next_deadline();
    deadlines.push_back(deadline);
    CHECK(deadline - now >= seconds{base - 1});
    CHECK(deadline - now <= seconds{base + 1});
    c.on_timer(deadline - milliseconds{1});  // early: nothing happens
    CHECK_FALSE(c.has_outgoing());
    now = deadline;
    c.on_timer(now);
    const sent again = take(c);
    CHECK(get32(again.payload, 4) == xid);  // same transaction
    CHECK(find_option(again.payload, 53) == bytes{1});
    CHECK(get16(again.payload, 8) == std::chrono::duration_cast<seconds>(now - t0).count());  // secs
    CHECK(again.payload.size() == first.payload.size());
  }
  CHECK(c.stats().retransmissions == 7);
  CHECK(c.state() == dhcp_state::selecting);

  // The randomisation comes from the seed: the same seed replays the same times.
  dhcp_client twin{client_mac, 1234};
  twin.start(t0);
  for (const time_point d : deadlines) {
    CHECK(twin.next_deadline() == d);
    twin.on_timer(twin.next_deadline());
  }
  dhcp_client other{client_mac, 999};
  other.start(t0);
  CHECK(other.xid() != xid);
  CHECK(other.next_deadline() != deadlines[0]);
}

TEST_CASE("RFC 2131 §3.1 step 5: REQUEST is retransmitted, then after about 60 s the client restarts in INIT", "[dhcp]") {
  dhcp_client c{client_mac, 99};
  c.start(t0);
  const sent discover = take(c);
  const std::uint32_t xid = c.xid();
  const time_point offered_at = t0 + seconds{1};
  deliver(c, dnsmasq(xid, client_mac, offered, {}), offered_at);
  take(c);
  time_point now = offered_at;
  const int expected[] = {4, 8, 16};
  for (int base : expected) {
    const time_point d = c.next_deadline();
    CHECK(d - now >= seconds{base - 1});
    CHECK(d - now <= seconds{base + 1});
    now = d;
    c.on_timer(now);
    CHECK(c.state() == dhcp_state::requesting);
    const sent r = take(c);
    CHECK(find_option(r.payload, 53) == bytes{3});
    CHECK(get32(r.payload, 4) == xid);
    CHECK(get16(r.payload, 8) == get16(discover.payload, 8));
  }
  const time_point d = c.next_deadline();
  CHECK(d - now >= seconds{31});
  CHECK(d - now <= seconds{33});
  c.on_timer(d);
  CHECK(c.state() == dhcp_state::selecting);
  CHECK(c.stats().requests_abandoned == 1);
  const sent again = take(c);
  CHECK(find_option(again.payload, 53) == bytes{1});
  CHECK(get32(again.payload, 4) == c.xid());
  CHECK(c.xid() != xid);  // a new transaction
  CHECK_FALSE(c.lease().has_value());
}

// ---------------------------------------------------------------------------------------
// Reacquisition and expiration (§4.4.5)

TEST_CASE("RFC 2131 §4.4.5: at T1 the client unicasts DHCPREQUEST with ciaddr to the leasing server", "[dhcp]") {
  dhcp_client c{client_mac, 5};
  const time_point requested = bind(c);
  const std::uint32_t generation = c.lease_generation();
  const std::uint32_t old_xid = c.xid();

  c.on_timer(requested + seconds{1799});
  CHECK(c.state() == dhcp_state::bound);
  CHECK_FALSE(c.has_outgoing());

  const time_point t1 = requested + seconds{1800};
  c.on_timer(t1);
  CHECK(c.state() == dhcp_state::renewing);
  const sent r = take(c);
  check_client_header(r.payload, c);
  CHECK(c.xid() != old_xid);
  CHECK(r.destination == server);  // unicast
  CHECK_FALSE(r.from_unspecified);  // from the leased address
  CHECK(get32(r.payload, 12) == offered.value);  // ciaddr
  CHECK(get16(r.payload, 10) == 0);              // no BROADCAST: we can take unicast now
  CHECK(find_option(r.payload, 53) == bytes{3});
  CHECK_FALSE(find_option(r.payload, 54));  // 'server identifier' MUST NOT
  CHECK_FALSE(find_option(r.payload, 50));  // 'requested IP address' MUST NOT
  CHECK(c.lease().has_value());             // the lease still holds

  // No answer: wait half the time left until T2 (675 s), at least 60 s.
  CHECK(c.next_deadline() == t1 + seconds{675});
  c.on_timer(t1 + seconds{675});
  CHECK(c.state() == dhcp_state::renewing);
  CHECK(take(c).destination == server);
  CHECK(c.next_deadline() == t1 + seconds{675} + seconds{337} + milliseconds{500});

  // The ACK (unicast to ciaddr) extends the lease from the first renewing REQUEST.
  const time_point acked = t1 + seconds{700};
  deliver(c, dnsmasq(c.xid(), client_mac, offered, {.type = 5}, offered), acked);
  CHECK(c.state() == dhcp_state::bound);
  CHECK(c.lease()->acquired == t1);
  CHECK(c.next_deadline() == t1 + seconds{1800});
  CHECK(c.lease_generation() == generation);  // same address and parameters: nothing to reconfigure
  CHECK(c.stats().renewals == 1);
  CHECK(c.stats().leases_acquired == 2);
}

TEST_CASE("RFC 2131 §4.4.5: at T2 the client broadcasts DHCPREQUEST (REBINDING) to any server", "[dhcp]") {
  dhcp_client c{client_mac, 6};
  const time_point requested = bind(c);
  const std::uint32_t generation = c.lease_generation();
  while (c.next_deadline() < requested + seconds{3150}) {
    c.on_timer(c.next_deadline());
    CHECK(c.state() == dhcp_state::renewing);
    CHECK(take(c).destination == server);
  }
  const time_point t2 = requested + seconds{3150};
  CHECK(c.next_deadline() == t2);  // retransmissions stop at T2
  const std::uint32_t renew_xid = c.xid();
  c.on_timer(t2);
  CHECK(c.state() == dhcp_state::rebinding);
  CHECK(c.xid() != renew_xid);
  const sent r = take(c);
  check_client_header(r.payload, c);
  CHECK(r.destination == ipv4_address::broadcast());
  CHECK_FALSE(r.from_unspecified);  // §4.1: the address is still ours until expiry
  CHECK(get32(r.payload, 12) == offered.value);
  CHECK(find_option(r.payload, 53) == bytes{3});
  CHECK_FALSE(find_option(r.payload, 54));
  CHECK_FALSE(find_option(r.payload, 50));

  // Half the time left until expiry (225 s), then at least 60 s, never past expiry.
  CHECK(c.next_deadline() == t2 + seconds{225});
  c.on_timer(t2 + seconds{225});
  take(c);
  CHECK(c.next_deadline() == t2 + seconds{225} + seconds{112} + milliseconds{500});

  // Another server answers (its own server identifier): the lease moves to it.
  deliver(c, dnsmasq(c.xid(), client_mac, offered, {.type = 5, .server_id = server2}, offered), t2 + seconds{300});
  CHECK(c.state() == dhcp_state::bound);
  CHECK(c.lease()->server == server2);
  CHECK(c.lease()->acquired == t2);
  CHECK(c.lease_generation() != generation);
}

TEST_CASE("RFC 2131 §4.4.5: if the lease expires before a DHCPACK, the client returns to INIT", "[dhcp]") {
  dhcp_client c{client_mac, 8};
  const time_point requested = bind(c);
  const std::uint32_t generation = c.lease_generation();
  const time_point expiry = requested + seconds{3600};
  int requests = 0;
  while (c.state() != dhcp_state::selecting) {
    const time_point d = c.next_deadline();
    REQUIRE(d <= expiry);
    c.on_timer(d);
    const sent s = take(c);
    if (c.state() != dhcp_state::selecting) ++requests;
    else CHECK(d == expiry);
    if (c.state() == dhcp_state::selecting) {
      CHECK(find_option(s.payload, 53) == bytes{1});
      CHECK(s.from_unspecified);
      CHECK(get32(s.payload, 12) == 0);
    }
  }
  CHECK(requests >= 4);
  CHECK_FALSE(c.lease().has_value());
  CHECK(c.lease_generation() != generation);
  CHECK(c.stats().leases_lost == 1);
}

TEST_CASE("RFC 2131 §4.4.5: a timer that fires late moves straight to the state of the present time", "[dhcp]") {
  dhcp_client c{client_mac, 8};
  const time_point requested = bind(c);
  SECTION("past T2 from BOUND: REBINDING") {
    c.on_timer(requested + seconds{3200});
    CHECK(c.state() == dhcp_state::rebinding);
    CHECK(take(c).destination == ipv4_address::broadcast());
  }
  SECTION("past expiry from BOUND: INIT") {
    c.on_timer(requested + seconds{4000});
    CHECK(c.state() == dhcp_state::selecting);
    CHECK_FALSE(c.lease().has_value());
  }
}

// ---------------------------------------------------------------------------------------
// DHCPNAK (§3.1 step 5, §3.2 step 3, Figure 5)

TEST_CASE("RFC 2131 §3.1 step 5: a DHCPNAK in REQUESTING restarts the configuration from INIT", "[dhcp]") {
  dhcp_client c{client_mac, 11};
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0);
  take(c);
  const std::uint32_t generation = c.lease_generation();
  deliver(c, nak(xid), t0 + seconds{1});
  CHECK(c.state() == dhcp_state::selecting);
  CHECK(c.xid() != xid);
  const sent d = take(c);
  CHECK(find_option(d.payload, 53) == bytes{1});
  CHECK(get16(d.payload, 8) == 0);  // a new process: secs starts again
  CHECK(c.stats().naks == 1);
  CHECK_FALSE(c.lease().has_value());
  CHECK(c.lease_generation() == generation);  // there was no lease to lose
}

TEST_CASE("RFC 2131 §4.4.5 Figure 5: a DHCPNAK in RENEWING or REBINDING halts the network and restarts", "[dhcp]") {
  dhcp_client c{client_mac, 12};
  const time_point requested = bind(c);
  const std::uint32_t generation = c.lease_generation();
  const bool rebinding = GENERATE(false, true);
  c.on_timer(requested + seconds{rebinding ? 3150 : 1800});
  take(c);
  deliver(c, nak(c.xid()), requested + seconds{3300});
  CHECK(c.state() == dhcp_state::selecting);
  CHECK_FALSE(c.lease().has_value());
  CHECK(c.lease_generation() != generation);
  CHECK(c.stats().leases_lost == 1);
  CHECK(find_option(take(c).payload, 53) == bytes{1});
}

// ---------------------------------------------------------------------------------------
// Messages the client must ignore

TEST_CASE("RFC 2131 §4.4.1: replies with another 'xid' are silently discarded", "[dhcp]") {
  dhcp_client c{client_mac, 13};
  c.start(t0);
  take(c);
  deliver(c, dnsmasq(c.xid() + 1, client_mac, offered, {}), t0);
  CHECK(c.state() == dhcp_state::selecting);
  CHECK_FALSE(c.has_outgoing());
  CHECK(c.stats().ignored_by(dhcp_ignore::wrong_xid) == 1);

  const time_point requested = bind(c);
  deliver(c, nak(c.xid() ^ 0x80000000u), requested + seconds{1});
  CHECK(c.state() == dhcp_state::bound);
  c.on_timer(requested + seconds{1800});
  take(c);
  deliver(c, dnsmasq(c.xid() + 7, client_mac, offered, {.type = 5}), requested + seconds{1801});  // §4.4.5
  CHECK(c.state() == dhcp_state::renewing);
  CHECK(c.stats().ignored_by(dhcp_ignore::wrong_xid) == 3);
}

TEST_CASE("RFC 2131 §4.4.1: replies for another client's 'chaddr' are ignored", "[dhcp]") {
  dhcp_client c{client_mac, 14};
  c.start(t0);
  take(c);
  deliver(c, dnsmasq(c.xid(), other_mac, offered, {}), t0);
  CHECK(c.state() == dhcp_state::selecting);
  CHECK_FALSE(c.has_outgoing());
  CHECK(c.stats().ignored_by(dhcp_ignore::wrong_chaddr) == 1);
}

TEST_CASE("RFC 2131 Figure 5: each state discards the message types it does not take", "[dhcp]") {
  dhcp_client c{client_mac, 15};
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5}), t0);  // §4.4.1: ACK in SELECTING
  deliver(c, nak(xid), t0);                                        // NAK in SELECTING
  CHECK(c.state() == dhcp_state::selecting);
  CHECK(c.stats().ignored_by(dhcp_ignore::unexpected) == 2);

  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0);
  take(c);
  deliver(c, dnsmasq(xid, client_mac, offered, {.server_id = server2}), t0);  // a second OFFER
  CHECK(c.state() == dhcp_state::requesting);
  CHECK(c.stats().ignored_by(dhcp_ignore::unexpected) == 3);

  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5}), t0);
  REQUIRE(c.state() == dhcp_state::bound);
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5}), t0);  // a duplicate ACK in BOUND
  deliver(c, nak(xid), t0);                                        // and a NAK
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 9}), t0);  // an unknown type
  CHECK(c.state() == dhcp_state::bound);
  CHECK(c.stats().ignored_by(dhcp_ignore::unexpected) == 6);
  CHECK(c.stats().leases_acquired == 1);
}

TEST_CASE("RFC 2131 §4.3.2: in REQUESTING only the selected server's ACK or NAK counts", "[dhcp]") {
  dhcp_client c{client_mac, 16};
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0);
  take(c);
  deliver(c, nak(xid, client_mac, server2), t0);
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5, .server_id = server2}), t0);
  CHECK(c.state() == dhcp_state::requesting);
  CHECK(c.stats().ignored_by(dhcp_ignore::wrong_server) == 2);
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5}), t0);
  CHECK(c.state() == dhcp_state::bound);
}

TEST_CASE("RFC 2131 Table 3: an OFFER without server identifier or an ACK without lease time is unusable", "[dhcp]") {
  dhcp_client c{client_mac, 17};
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {.server_id = std::nullopt}), t0);
  deliver(c, dnsmasq(xid, client_mac, ipv4_address::any(), {}), t0);  // no yiaddr
  CHECK(c.state() == dhcp_state::selecting);
  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0);
  take(c);
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5, .lease = std::nullopt}), t0);
  CHECK(c.state() == dhcp_state::requesting);
  CHECK(c.stats().ignored_by(dhcp_ignore::unusable) == 3);
}

TEST_CASE("a server identifier of 0.0.0.0 makes an OFFER or ACK unusable (fuzz regression)", "[dhcp]") {
  // Found by the dhcp fuzz target: RENEWING would have unicast its REQUEST to 0.0.0.0.
  const ipv4_address none = ipv4_address::any();
  dhcp_client c{client_mac, 27};
  c.start(t0);
  take(c);
  const std::uint32_t xid = c.xid();
  deliver(c, dnsmasq(xid, client_mac, offered, {.server_id = none}), t0);
  CHECK(c.state() == dhcp_state::selecting);
  deliver(c, dnsmasq(xid, client_mac, offered, {}), t0);
  take(c);
  const time_point requested = t0;
  deliver(c, dnsmasq(xid, client_mac, offered, {.type = 5}), t0);
  REQUIRE(c.state() == dhcp_state::bound);

  c.on_timer(requested + seconds{1800});  // T1
  REQUIRE(c.state() == dhcp_state::renewing);
  take(c);
  deliver(c, dnsmasq(c.xid(), client_mac, offered, {.type = 5, .server_id = none}, offered), requested + seconds{1801});
  CHECK(c.state() == dhcp_state::renewing);
  CHECK(c.lease()->server == server);
  CHECK(c.stats().ignored_by(dhcp_ignore::unusable) == 2);
}

TEST_CASE("RFC 2131 §3: BOOTREQUESTs and malformed messages are ignored, never crash the client", "[dhcp]") {
  dhcp_client c{client_mac, 18};
  c.start(t0);
  take(c);
  bytes request = dnsmasq(c.xid(), client_mac, offered, {});
  request[0] = 1;  // another client's DHCPREQUEST seen on the wire
  deliver(c, request, t0);
  deliver(c, bytes{}, t0);
  deliver(c, bytes(100, 0xff), t0);
  bytes cut = dnsmasq(c.xid(), client_mac, offered, {});
  cut.resize(cut.size() - 3);
  deliver(c, cut, t0);
  CHECK(c.state() == dhcp_state::selecting);
  CHECK(c.stats().ignored_by(dhcp_ignore::not_a_reply) == 1);
  CHECK(c.stats().ignored_by(dhcp_ignore::malformed) == 3);
  CHECK(c.stats().received == 4);
}

TEST_CASE("RFC 2131 §4.4.1: messages before start() are ignored and no timer runs", "[dhcp]") {
  dhcp_client c{client_mac, 19};
  deliver(c, dnsmasq(0, client_mac, offered, {}), t0);
  c.on_timer(t0 + seconds{100});
  CHECK(c.state() == dhcp_state::init);
  CHECK_FALSE(c.has_outgoing());
  CHECK(c.stats().ignored_total() == 1);
}

TEST_CASE("only the latest outgoing message is kept, and the drop is counted", "[dhcp]") {
  dhcp_client c{client_mac, 20};
  c.start(t0);  // DISCOVER not taken
  c.on_timer(c.next_deadline());
  const sent s = take(c);
  CHECK(get16(s.payload, 8) >= 3);  // the retransmission, not the first DISCOVER
  CHECK(c.stats().unsent_dropped == 1);
}

// ---------------------------------------------------------------------------------------
// Wire format

TEST_CASE("RFC 2131 §2, §3: a dnsmasq DHCPACK parses into the fixed fields and options", "[dhcp][wire]") {
  const bytes ack = dnsmasq(0xdeadbeef, client_mac, offered, {.type = 5});
  auto m = dhcp_message::parse(ack);
  REQUIRE(m.ok());
  CHECK(m->op == dhcp_op::boot_reply);
  CHECK(m->xid == 0xdeadbeef);
  CHECK(m->broadcast());
  CHECK(m->yiaddr == offered);
  CHECK(m->siaddr == server);
  CHECK(m->chaddr == client_mac);
  CHECK(m->message_type == dhcp_message_type::ack);
  CHECK(m->server_identifier == server);
  CHECK(m->lease_seconds == 3600u);
  CHECK(m->renewal_seconds == 1800u);
  CHECK(m->rebinding_seconds == 3150u);
  CHECK(m->subnet_mask == ipv4_address{0xffffff00u});
  CHECK(m->router == ipv4_address::from_octets(192, 168, 1, 254));
  REQUIRE(m->dns_servers().size() == 2);
  CHECK(m->dns_servers()[1] == dns2);
  CHECK_FALSE(m->requested_ip);
}

TEST_CASE("RFC 2131 §2: emit and parse are inverse, emit pads to the 300-octet BOOTP minimum", "[dhcp][wire]") {
  dhcp_message m;
  m.op = dhcp_op::boot_request;
  m.hops = 1;
  m.xid = 0x01020304;
  m.secs = 9;
  m.flags = dhcp_message::broadcast_flag;
  m.ciaddr = ipv4_address::from_octets(10, 0, 0, 1);
  m.giaddr = ipv4_address::from_octets(10, 0, 0, 254);
  m.chaddr = client_mac;
  m.message_type = dhcp_message_type::request;
  m.requested_ip = offered;
  m.server_identifier = server;
  const std::uint8_t id[] = {1, 2, 0, 0x5e, 0x10, 0, 1};
  REQUIRE(m.set_client_identifier(id));
  const std::uint8_t prl[] = {1, 3, 6};
  m.set_parameter_request_list(prl);
  std::array<std::uint8_t, dhcp_message::max_emit_size> out{};
  const std::size_t n = m.emit(out);
  CHECK(n == 300);
  CHECK(n == m.emit_size());
  const bytes b(out.begin(), out.begin() + static_cast<long>(n));
  CHECK(find_option(b, 61) == bytes(std::begin(id), std::end(id)));
  auto back = dhcp_message::parse(b);
  REQUIRE(back.ok());
  CHECK(*back == m);

  // Every option at its largest still fits in a 576-octet datagram.
  m.lease_seconds = m.renewal_seconds = m.rebinding_seconds = 1;
  m.subnet_mask = m.router = offered;
  m.dns_count = 3;
  std::uint8_t codes[dhcp_message::max_parameter_requests] = {};
  m.set_parameter_request_list(codes);
  std::uint8_t long_id[dhcp_message::max_client_id] = {};
  REQUIRE(m.set_client_identifier(long_id));
  CHECK(m.emit_size() <= dhcp_message::max_emit_size);
  CHECK(m.emit(out) == m.emit_size());
  auto full = dhcp_message::parse(std::span<const std::uint8_t>(out.data(), m.emit_size()));
  REQUIRE(full.ok());
  CHECK(*full == m);

  std::array<std::uint8_t, 299> small{};
  CHECK(m.emit(small) == 0);  // too short: nothing written
}

TEST_CASE("a client identifier dropped for its length leaves no bytes behind (fuzz regression)",
          "[dhcp][wire]") {
  // Found by the dhcp fuzz target: a second option 61 longer than max_client_id cleared the
  // size but kept the first one's bytes, and the parsed value then differed from its re-parse.
  bytes b = dnsmasq(1, client_mac, offered, {.type = 5});
  b.pop_back();  // the end option
  opt(b, 61, {1, 2, 3, 4});
  opt(b, 61, bytes(dhcp_message::max_client_id + 1, 7));
  b.push_back(255);
  auto m = dhcp_message::parse(b);
  REQUIRE(m.ok());
  CHECK(m->client_identifier().empty());
  std::array<std::uint8_t, dhcp_message::max_emit_size> out{};
  auto back = dhcp_message::parse(std::span<const std::uint8_t>(out.data(), m->emit(out)));
  REQUIRE(back.ok());
  CHECK(*back == *m);
}

TEST_CASE("RFC 2131 §3: every truncation of a valid DHCPACK fails cleanly, never reading past the end",
          "[dhcp][wire]") {
  const bytes ack = dnsmasq(7, client_mac, offered, {.type = 5});  // ends with the end option
  for (std::size_t n = 0; n < ack.size(); ++n) {
    auto p = exact(ack, n);
    auto r = dhcp_message::parse({p.get(), n});
    CHECK(r.err() == error::truncated);
  }
  // Padded after the end option (BOOTP's 64-octet vendor area): cuts in the padding parse.
  bytes padded = ack;
  padded.resize(400, 0);
  const auto whole = dhcp_message::parse(padded);
  REQUIRE(whole.ok());
  for (std::size_t n = 0; n <= padded.size(); ++n) {
    auto p = exact(padded, n);
    auto r = dhcp_message::parse({p.get(), n});
    if (n < ack.size()) CHECK(r.err() == error::truncated);
    else CHECK((r.ok() && *r == *whole));
  }
}

TEST_CASE("RFC 2132 §2: an option whose length or value runs past the end is truncated", "[dhcp][wire]") {
  bytes m = reply_header(1, client_mac, offered);
  opt(m, 53, {2});
  bytes long_value = m;
  long_value.push_back(51);
  long_value.push_back(200);  // 200 octets claimed
  long_value.insert(long_value.end(), {0, 0, 14, 16, 255});
  CHECK(dhcp_message::parse(long_value).err() == error::truncated);

  bytes no_length = m;
  no_length.push_back(51);  // a code and nothing after it
  CHECK(dhcp_message::parse(no_length).err() == error::truncated);

  bytes unknown_long = m;
  unknown_long.push_back(224);  // an unknown (site-specific) option, too long
  unknown_long.push_back(255);
  unknown_long.insert(unknown_long.end(), 20, 0);
  CHECK(dhcp_message::parse(unknown_long).err() == error::truncated);

  bytes no_end = m;  // §4.1: "The last option must always be the 'end' option"
  CHECK(dhcp_message::parse(no_end).err() == error::truncated);
}

TEST_CASE("RFC 2131 §3: a missing or wrong magic cookie is rejected, so is an empty buffer", "[dhcp][wire]") {
  const bytes ack = dnsmasq(7, client_mac, offered, {.type = 5});
  CHECK(dhcp_message::parse(std::span<const std::uint8_t>{}).err() == error::truncated);
  CHECK(dhcp_message::parse(std::span<const std::uint8_t>(ack.data(), 236)).err() == error::truncated);  // BOOTP header only
  for (std::size_t i = 236; i < 240; ++i) {
    bytes bad = ack;
    bad[i] ^= 0x01;
    CHECK(dhcp_message::parse(bad).err() == error::malformed);
  }
}

TEST_CASE("RFC 2131 Table 1: 'op' other than 1 or 2, 'htype' other than 1, 'hlen' other than 6 are malformed",
          "[dhcp][wire]") {
  const bytes ack = dnsmasq(7, client_mac, offered, {.type = 5});
  for (const auto& [at, value] : {std::pair{0, 0}, {0, 3}, {1, 6}, {2, 16}, {2, 0}}) {
    bytes bad = ack;
    bad[static_cast<std::size_t>(at)] = static_cast<std::uint8_t>(value);
    CHECK(dhcp_message::parse(bad).err() == error::malformed);
  }
}

TEST_CASE("RFC 2132: known options with an illegal length are malformed", "[dhcp][wire]") {
  const std::pair<std::uint8_t, bytes> cases[] = {
      {53, {5, 5}},             // §9.6: length 1
      {54, {192, 168, 1}},      // §9.7: length 4
      {51, {0, 0, 14, 16, 0}},  // §9.2: length 4
      {58, {}},                 // §9.11
      {59, {1}},                // §9.12
      {50, {1, 2, 3, 4, 5, 6, 7, 8}},
      {1, {255, 255, 255}},     // §3.3: length 4
      {3, {10, 0, 0, 1, 10, 0}},  // §3.5: a multiple of 4
      {3, {}},                  // at least 4
      {6, {9, 9, 9}},           // §3.8
      {55, {}},                 // §9.8: at least 1
      {61, {1}},                // §9.14: at least 2
  };
  for (const auto& [code, value] : cases) {
    bytes m = reply_header(1, client_mac, offered);
    opt(m, code, value);
    m.push_back(255);
    INFO("option " << int{code});
    CHECK(dhcp_message::parse(m).err() == error::malformed);
  }
}

TEST_CASE("RFC 2132 §2, §3.1: pad and unknown options are skipped, nothing after end is read", "[dhcp][wire]") {
  bytes m = reply_header(1, client_mac, offered);
  m.insert(m.end(), {0, 0, 0});            // pad
  opt(m, 43, {1, 2, 3, 4, 5, 6, 7});       // vendor specific
  opt(m, 250, {});                         // an unknown zero-length option
  opt(m, 53, {2});
  opt(m, 12, {'u', 'n', 'i'});             // host name
  m.push_back(255);
  m.insert(m.end(), {53, 1, 5, 51, 4});    // garbage after end
  auto r = dhcp_message::parse(m);
  REQUIRE(r.ok());
  CHECK(r->message_type == dhcp_message_type::offer);
  CHECK_FALSE(r->lease_seconds);
}

TEST_CASE("RFC 2131 §4.1: repeated list options are concatenated, single values take the last", "[dhcp][wire]") {
  bytes m = reply_header(1, client_mac, offered);
  opt(m, 53, {2});
  opt(m, 6, {1, 1, 1, 1});
  opt(m, 6, {8, 8, 8, 8, 9, 9, 9, 9, 4, 4, 4, 4});  // the fourth server is dropped
  opt32(m, 51, 60);
  opt32(m, 51, 120);
  m.push_back(255);
  auto r = dhcp_message::parse(m);
  REQUIRE(r.ok());
  REQUIRE(r->dns_servers().size() == 3);
  CHECK(r->dns[0] == ipv4_address::from_octets(1, 1, 1, 1));
  CHECK(r->dns[2] == ipv4_address::from_octets(9, 9, 9, 9));
  CHECK(r->lease_seconds == 120u);
}

TEST_CASE("RFC 2132 §9.3: option overload is accepted and the 'file' and 'sname' fields are not read",
          "[dhcp][wire]") {
  bytes m = reply_header(1, client_mac, offered);
  // options in 'file' (offset 108): a lease time, then end
  const std::uint8_t in_file[] = {51, 4, 0, 0, 1, 0, 255};
  std::copy(std::begin(in_file), std::end(in_file), m.begin() + 108);
  opt(m, 52, {1});
  opt(m, 53, {5});
  m.push_back(255);
  auto r = dhcp_message::parse(m);
  REQUIRE(r.ok());
  CHECK(r->message_type == dhcp_message_type::ack);
  CHECK_FALSE(r->lease_seconds);
}

TEST_CASE("RFC 2132 §9.14: a client identifier longer than uni keeps is treated as absent", "[dhcp][wire]") {
  bytes m = reply_header(1, client_mac, offered);
  opt(m, 53, {6});
  opt(m, 61, bytes(dhcp_message::max_client_id + 1, 7));
  m.push_back(255);
  auto r = dhcp_message::parse(m);
  REQUIRE(r.ok());
  CHECK(r->client_identifier().empty());
}
